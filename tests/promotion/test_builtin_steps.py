"""The built-in registry offers every step Kargo ships, each with its own JSON schema."""

from pathlib import Path

from kargo_dagster.promotion.builtin import builtin_registry
from kargo_dagster.promotion.builtin_kinds import BUILTIN_STEP_KINDS
from kargo_dagster.spec.step_kinds import STEP_KINDS

SCHEMAS = Path(__file__).parents[2] / "kargo_dagster" / "promotion" / "schemas"


def test_every_kargo_step_kind_is_built_in() -> None:
    registry = builtin_registry()

    assert sorted(STEP_KINDS - set(registry)) == []
    assert sorted(set(registry) - STEP_KINDS) == []


def test_every_built_in_step_has_kargos_schema() -> None:
    missing = [
        name for name in builtin_registry() if not (SCHEMAS / f"{name}-config.json").is_file()
    ]

    assert missing == []


def test_the_names_checks_use_are_the_built_in_steps() -> None:
    assert sorted(builtin_registry()) == sorted(BUILTIN_STEP_KINDS)
