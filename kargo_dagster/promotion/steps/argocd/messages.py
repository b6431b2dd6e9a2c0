"""How ``argocd-update`` names Applications and lists values in its messages, as Kargo's
Go messages do (``%q`` names, ``%v`` lists), so that every part of the step words them alike.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from kargo_dagster.promotion.steps.argocd.connection import app_ref, go_quote

__all__ = ["describe_application", "go_list"]


def describe_application(app: Mapping[str, Any]) -> str:
    """``Argo CD Application "name" in namespace "namespace"``."""
    ref = app_ref(dict(app))
    return f"Argo CD Application {go_quote(ref['name'])} in namespace {go_quote(ref['namespace'])}"


def go_list(values: Sequence[str]) -> str:
    """``values`` as Go's ``%v`` writes a ``[]string``."""
    return "[" + " ".join(values) + "]"
