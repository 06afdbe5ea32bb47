"""Turn jsonschema's errors into one plain sentence each, naming the field.

jsonschema's own messages print whole sub-documents and schema fragments; a user wants "unknown field
'memroy' (did you mean 'memory'?)".
"""

from __future__ import annotations

import datetime
import difflib
import json
from pathlib import Path
from typing import Any

import jsonschema

from seifer_iac.spec.errors import field_path

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "pipeline.schema.json"


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


SHOWN_CHARACTERS = 60


def _show(value: object) -> str:
    """A value as the user would write it (YAML may hand us dates and other non-JSON types), cut short:
    a message quotes a value, never a whole sub-document or a megabyte string."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."


def _describe_type(value: object) -> str:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return "a date (YAML reads an unquoted 2024-01-01 as a date: quote it)"
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "true/false", type(None): "nothing"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, (int, float)) else type(value).__name__


def _message(error: jsonschema.ValidationError) -> str:
    value = error.instance
    validator = error.validator
    if validator == "pattern" and "labels" in list(error.path):
        return f"label {_show(value)} is not a valid Kubernetes label key or value"
    if validator == "required":
        missing = [name for name in error.validator_value if name not in (value or {})]
        return f"missing required field {', '.join(repr(m) for m in missing)}"
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extras = sorted(set(value) - set(allowed), key=str) if isinstance(value, dict) else []
        parts = []
        for extra in extras:
            close = difflib.get_close_matches(str(extra), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
            parts.append(f"unknown field '{extra}'{hint}")
        return "; ".join(parts)
    if validator == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return f"expected {wanted}, got {_describe_type(value)} {_show(value)[:40]}"
    if validator == "enum":
        return f"{_show(value)} is not one of {', '.join(_show(v) for v in error.validator_value)}"
    if validator == "const":
        return f"{_show(value)} must be {_show(error.validator_value)}"
    if validator == "pattern":
        if error.schema.get("pattern", "").startswith("^[a-z]("):
            return (
                f"{_show(value)} is not a valid name: start with a lower-case letter, then letters, digits, "
                '"-"'
            )
        if error.schema.get("pattern", "").startswith("^[a-z0-9]("):
            return f'{_show(value)} is not a valid name: use lower-case letters, digits and "-" (like pi-1)'
        if str(error.schema.get("pattern", "")).startswith("\\."):
            return f"{_show(value)} must end in {error.schema['pattern'][2:-1]}"
        return f"{_show(value)} has the wrong form ({error.schema.get('description', error.validator_value)})"
    if validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        word = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[validator]
        return f"{_show(value)} must be {word} {error.validator_value}"
    if validator in ("minItems", "maxItems", "minLength", "maxLength"):
        word = "short" if validator.startswith("min") else "long"
        unit = "items" if validator.endswith("Items") else "characters"
        bound = "at least" if validator.startswith("min") else "at most"
        count = len(value) if isinstance(value, (list, str)) else "?"
        return f"{_show(value)[:40]} is too {word}: {count} {unit}, {bound} {error.validator_value}"
    is_model = list(error.path)[-1:] == ["model"] or (isinstance(value, dict) and "version" in value)
    if validator == "oneOf" and is_model:
        given = [k for k in ("application", "file", "profile") if k in value]
        if not given:
            return "name the model with exactly one of 'application', 'file' or 'profile'"
        return f"give only one of 'application', 'file' or 'profile' (found {', '.join(given)})"
    if validator == "oneOf" and "codec" in (list(error.path) or [""])[-1:]:
        return f"{_show(value)} is not a codec: use none, lz4, zfp or an object with 'name'"
    return error.message


def _innermost(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For a oneOf over an object (the codec), report the branch that matched its type."""
    if (
        error.validator == "oneOf"
        and error.context
        and not (isinstance(error.instance, dict) and "version" in error.instance)
    ):
        typed = [e for e in error.context if e.relative_path or e.validator not in ("type", "enum")]
        if typed:
            return min(typed, key=lambda e: len(e.absolute_path))
    return error


def describe(error: jsonschema.ValidationError) -> str:
    """One plain sentence for a jsonschema error of any schema (no sub-documents, no schema fragments)."""
    return _message(_innermost(error))


def schema_problems(data: Any) -> list[str]:
    """One 'field: sentence' line per schema violation, in document order."""
    validator = jsonschema.Draft202012Validator(load_schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        error = _innermost(error)
        problem = f"{field_path(error.absolute_path)}: {_message(error)}"
        if problem not in problems:  # one `required` error per missing key, each naming all of them
            problems.append(problem)
    return problems
