"""The names of the built-in steps, known without importing a single step.

Checking manifests needs only which step kinds exist, and importing the steps would load
every client they use; so the names live here, apart from
:data:`~kargo_dagster.promotion.builtin.BUILTIN_STEPS`. kargo-dagster provides every step
Kargo ships and no other, and a test holds the built-in registry to exactly these names.
"""

from kargo_dagster.spec.step_kinds import STEP_KINDS

__all__ = ["BUILTIN_STEP_KINDS"]

BUILTIN_STEP_KINDS: frozenset[str] = STEP_KINDS
"""The Kargo names of the steps :func:`~kargo_dagster.promotion.builtin.builtin_registry`
offers."""
