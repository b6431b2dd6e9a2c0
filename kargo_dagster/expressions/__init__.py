"""Kargo's ``${{ }}`` expressions: an expr-lang interpreter in pure Python.

Expressions are tokenised, parsed into a tree and interpreted; user text is never handed
to Python's ``eval`` or ``exec``. This package never imports Dagster.
"""

from kargo_dagster.expressions.functions import kargo_functions
from kargo_dagster.expressions.templates import evaluate, evaluate_template, has_expression

__all__ = ["evaluate", "evaluate_template", "has_expression", "kargo_functions"]
