"""Pure planning: model profile + cluster -> Plan. Imports no TensorFlow, pulumi or zmq.

Entry points: `plan_spec(spec, profile)` (what to deploy, lock rule applied), `optimise(problem)` (the
optimum), `PlanningError` (no plan: the message says what to change).
"""

from seifer_iac.planner.cost import CostModel
from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.optimise import optimise
from seifer_iac.planner.plan import Plan, Stage
from seifer_iac.planner.problem import Problem, problem_from_spec
from seifer_iac.planner.spec_plan import decide_for_spec, plan_spec

__all__ = [
    "CostModel",
    "Plan",
    "PlanningError",
    "Problem",
    "Stage",
    "decide_for_spec",
    "optimise",
    "plan_spec",
    "problem_from_spec",
]
