"""The one error the planner raises: its message tells the user what to change, in one line."""

from __future__ import annotations


class PlanningError(Exception):
    """No placement satisfies the spec; str(error) names the node, block and figures, and the fix."""
