"""The private Dagster API the storage adapter depends on, named one by one."""

import importlib

import pytest

from kargo_dagster.defs.dagster_internals import PRIVATE_SYMBOLS


@pytest.mark.parametrize("symbol", PRIVATE_SYMBOLS)
def test_private_symbol_exists(symbol: str):
    parts = symbol.split(".")
    # Import the longest importable module prefix, then walk the attributes.
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        assert target is not None
        return
    pytest.fail(f"cannot import {symbol}")


def test_only_the_adapter_uses_private_dagster_api():
    from pathlib import Path

    package = Path(__file__).parents[2] / "kargo_dagster"
    users = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "dagster._" in path.read_text()
    )
    assert users
    assert all(user.startswith("defs/dagster_internals/") for user in users), users
