"""The public names of ``kargo_dagster.spec``, and its independence from Dagster."""

import ast
from pathlib import Path

import kargo_dagster.spec
from kargo_dagster.spec import STEP_KINDS

SPEC_DIR = Path(kargo_dagster.spec.__file__).parent
STEP_SCHEMAS = Path(__file__).parent / "step_schema_names.txt"


def test_all_is_sorted_and_complete() -> None:
    names = kargo_dagster.spec.__all__
    # Ruff's isort-style order: CONSTANTS, then Classes, then functions.
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in names:
        assert hasattr(kargo_dagster.spec, name), name


def test_spec_never_imports_dagster() -> None:
    for module in SPEC_DIR.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            assert not any(r.startswith("dagster") for r in roots), module.name


def test_step_kinds_match_the_v1_11_2_schemas() -> None:
    # The list of contracts/kargo/v1.11.2/step-schemas/*-config.json names, frozen here so
    # tests never read the shared contracts at run time.
    assert STEP_KINDS == frozenset(STEP_SCHEMAS.read_text().split())
