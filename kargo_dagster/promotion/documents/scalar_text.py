"""Whether a string would be read back as something else, as Kargo's quoting decides it.

Kargo quotes a string value (in files it writes and in commit messages) when Go would parse
it as a number (``strconv.ParseFloat``), a boolean (``strconv.ParseBool``) or JSON.
"""

import json
import re
from typing import Any

from kargo_dagster.expressions.gojson import go_sprint

# strconv.ParseFloat: decimal or hex floats (underscores only after a base prefix), and the
# special values, any case.
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
    r"|0[xX](?:[0-9a-fA-F_]+\.?[0-9a-fA-F_]*|\.[0-9a-fA-F_]+)[pP][+-]?\d+"
    r"|inf|infinity|nan)",
    re.IGNORECASE,
)
_GO_BOOLS = frozenset(
    {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
)


def looks_like_other_type(text: str) -> bool:
    """Whether Kargo would quote ``text``: Go reads it as a float, a bool, or valid JSON."""
    if _GO_FLOAT.fullmatch(text) or text in _GO_BOOLS:
        return True
    try:
        json.loads(text, parse_constant=_reject)
    except ValueError:
        return False
    return True


def _reject(_name: str) -> Any:
    # Python's json accepts NaN and Infinity; Go's json.Valid does not.
    raise ValueError("not JSON")


def go_quote(text: str) -> str:
    """Go's ``%q`` of a string, close enough for commit messages (JSON escaping)."""
    return json.dumps(text, ensure_ascii=False)


def quote_if_necessary(value: Any) -> str:
    """Kargo's ``QuoteIfNecessary`` then ``%v``: how a value appears in a commit message."""
    if isinstance(value, str):
        return go_quote(value) if looks_like_other_type(value) else value
    return go_sprint(value)
