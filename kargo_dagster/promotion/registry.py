"""Which step kinds a promotion may use, by Kargo name.

A registry is built explicitly from step instances (``StepRegistry([yaml_update.STEP])``);
importing a step module registers nothing, so tests and the Dagster layer each decide
which steps exist.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from kargo_dagster.errors import KargoDagsterError, TerminalStepError
from kargo_dagster.promotion.step import StepKind
from kargo_dagster.spec.diagnostics import did_you_mean
from kargo_dagster.spec.step_kinds import STEP_KINDS

__all__ = ["StepRegistry"]


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
        if name in STEP_KINDS:
            raise TerminalStepError(
                f"step kind {name!r} is a Kargo step that kargo-dagster does not provide"
            )
        raise TerminalStepError(
            f"step kind {name!r} is not registered{did_you_mean(name, self._kinds)}"
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
