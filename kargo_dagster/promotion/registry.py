"""Which step kinds a promotion may use, by Kargo name.

A registry is built explicitly from step instances (``StepRegistry([yaml_update.STEP])``);
importing a step module registers nothing, so tests and the Dagster layer each decide
which steps exist. What needs only the names (the static checks of manifests) takes any
collection of them and so never imports a step: ``builtin_kinds.BUILTIN_STEP_KINDS`` names
the built-in steps, and a registry is itself such a collection.
"""

from collections.abc import Collection, Iterable, Iterator
from typing import Any

from kargo_dagster.errors import KargoDagsterError, TerminalStepError
from kargo_dagster.promotion.step import StepCapability, StepKind
from kargo_dagster.spec.diagnostics import did_you_mean
from kargo_dagster.spec.step_kinds import STEP_KINDS

__all__ = ["StepRegistry", "unknown_step_kind"]


def unknown_step_kind(name: str, known: Collection[str]) -> str:
    """Why ``name`` is not among the ``known`` step kinds, with a close name if there is one.

    Examples:
        >>> unknown_step_kind("untar", {"yaml-update"})
        "step kind 'untar' is a Kargo step that kargo-dagster does not provide"
        >>> unknown_step_kind("yaml-updat", {"yaml-update"})
        "step kind 'yaml-updat' is not registered; did you mean 'yaml-update'?"
    """
    if name in STEP_KINDS:
        return f"step kind {name!r} is a Kargo step that kargo-dagster does not provide"
    return f"step kind {name!r} is not registered{did_you_mean(name, sorted(known))}"


class StepRegistry:
    """Step kinds by name (``yaml-update`` → its :class:`StepKind`).

    Args:
        kinds: The steps to offer; each name at most once.

    Raises:
        KargoDagsterError: Two steps share a name.
    """

    def __init__(self, kinds: Iterable[StepKind[Any]]) -> None:
        self._kinds: dict[str, StepKind[Any]] = {}
        for kind in kinds:
            if kind.name in self._kinds:
                raise KargoDagsterError(f"step kind {kind.name!r} is registered twice")
            self._kinds[kind.name] = kind

    def get(self, name: str) -> StepKind[Any]:
        """The step kind called ``name``.

        Raises:
            TerminalStepError: No such step here; the message suggests a close name, or says
                that Kargo has the step but kargo-dagster does not implement it.
        """
        kind = self._kinds.get(name)
        if kind is not None:
            return kind
        raise TerminalStepError(unknown_step_kind(name, self._kinds))

    def need(self, capability: StepCapability, uses: Iterable[str]) -> bool:
        """Whether any of the steps named in ``uses`` requires ``capability`` (unknown names
        require nothing: running them fails on its own)."""
        return any(
            capability in kind.required_capabilities
            for kind in (self._kinds.get(name) for name in uses)
            if kind is not None
        )

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._kinds)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._kinds))

    def __len__(self) -> int:
        return len(self._kinds)
