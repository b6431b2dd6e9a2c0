"""Judging a metric's result with its ``successCondition`` and ``failureCondition``.

Argo Rollouts' providers fetch a value and hand it to ``EvaluateResult``
(``utils/evaluate/evaluate.go``), which evaluates the metric's conditions as expr-lang
expressions. :func:`evaluate_conditions` does the same with this project's expr-lang
interpreter. A condition sees:

* ``result``: the provider's value (for a web metric, what its ``jsonPath`` selected);
* ``asInt(x)`` / ``asFloat(x)``: ``x`` as an integer or a float; strings are parsed
  (``asInt("12")``), anything else that is not a number is an error;
* ``isNaN(x)`` / ``isInf(x)``: whether the number ``x`` is NaN or infinite;
* ``isNil(x)``: whether ``result`` is nil (the argument is ignored, as in Argo Rollouts);
* ``default(x, fallback)``: ``fallback`` when ``result`` is nil, else ``result`` (the first
  argument is ignored, as in Argo Rollouts);
* expr's builtins (``len``, ``all``, ``filter``...).

The phase follows Argo Rollouts' truth table:

==================  ==================  ===============================================
successCondition    failureCondition    phase
==================  ==================  ===============================================
unset               unset               Successful
set                 unset               Successful if it holds, else Failed
unset               set                 Failed if it holds, else Successful
set                 set                 Failed if failure holds; else Successful if
                                        success holds; else Inconclusive
==================  ==================  ===============================================

A condition that does not parse, fails to evaluate or does not give a bool raises
:class:`~kargo_dagster.errors.ExpressionError`; the executor records it as an ``Error``
measurement.
"""

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions import evaluate
from kargo_dagster.expressions.gotype import go_type

__all__ = ["condition_functions", "evaluate_conditions"]

# Go's strconv.ParseInt(s, 10, 64): an optional sign and decimal digits, nothing else.
_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = range(-(2**63), 2**63)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_int(value: Any) -> int:
    if _is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"cannot convert {value} to an integer")
        return int(value)
    if isinstance(value, str):
        if _GO_INT.fullmatch(value) and int(value) in _INT64:
            return int(value)
        raise ValueError(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    raise ValueError(f"asInt() not supported on {go_type(value)} {value!r}")


def _as_float(value: Any) -> float:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        # Go's ParseFloat takes no surrounding spaces, which Python's float() would.
        if value and value == value.strip():
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f'strconv.ParseFloat: parsing "{value}": invalid syntax')
    raise ValueError(f"asFloat() not supported on {go_type(value)} {value!r}")


def _number_argument(value: Any) -> float:
    if not _is_number(value):
        raise TypeError(f"needs a number, got {go_type(value)}")
    return float(value)


def condition_functions(result: Any) -> dict[str, Callable[..., Any]]:
    """The functions Argo Rollouts gives conditions, bound to ``result`` where it matters.

    Args:
        result: The measured value; ``isNil`` and ``default`` look at it, not at their
            arguments.
    """

    def is_nil(_value: Any = None) -> bool:
        return result is None

    def default(_value: Any, fallback: Any) -> Any:
        return fallback if result is None else result

    return {
        "asInt": _as_int,
        "asFloat": _as_float,
        "isNaN": lambda value: math.isnan(_number_argument(value)),
        "isInf": lambda value: math.isinf(_number_argument(value)),
        "isNil": is_nil,
        "default": default,
    }


def _holds(kind: str, condition: str, result: Any) -> bool:
    env: dict[str, Any] = {"result": result, **condition_functions(result)}
    try:
        value = evaluate(condition, env)
    except ExpressionError as error:
        if result is None or (isinstance(result, list) and not result):
            # Argo Rollouts' hint: most failures on an empty result mean the query found
            # nothing, which the expression error alone does not say.
            raise ExpressionError(
                f'could not evaluate {kind} "{condition}": metric result is nil or empty: '
                "no data returned from the metric provider"
            ) from error
        # The condition is quoted already; the error's own rendering would quote it again.
        where = f" at position {error.position}" if error.position is not None else ""
        raise ExpressionError(
            f'could not evaluate {kind} "{condition}": {error.message}{where}'
        ) from error
    if not isinstance(value, bool):
        raise ExpressionError(
            f'could not evaluate {kind} "{condition}": expected bool, but got {go_type(value)}'
        )
    return value


def evaluate_conditions(result: Any, metric: Mapping[str, Any]) -> str:
    """The phase of one measurement whose value is ``result``, by the module's truth table.

    Args:
        result: The provider's value (JSON-like: None, bool, numbers, strings, lists, maps).
        metric: The metric, arguments substituted; only ``successCondition`` and
            ``failureCondition`` are read.

    Returns:
        ``Successful``, ``Failed`` or ``Inconclusive``.

    Raises:
        ExpressionError: A condition does not parse, fails, or gives something other than a
            bool; the message names the condition (``could not evaluate successCondition
            "result > 1": ...``).

    Examples:
        >>> evaluate_conditions(3, {"successCondition": "result > 1"})
        'Successful'
        >>> evaluate_conditions(0, {"successCondition": "result > 1"})
        'Failed'
    """
    success_condition = str(metric.get("successCondition") or "")
    failure_condition = str(metric.get("failureCondition") or "")
    succeeded = (
        _holds("successCondition", success_condition, result) if success_condition else False
    )
    failed = _holds("failureCondition", failure_condition, result) if failure_condition else False
    if not success_condition and not failure_condition:
        return "Successful"
    if not failure_condition:
        failed = not succeeded
    elif not success_condition:
        succeeded = not failed
    if failed:
        return "Failed"
    return "Successful" if succeeded else "Inconclusive"
