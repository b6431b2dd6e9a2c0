"""Fixtures for the spec tests."""

from pathlib import Path

import pytest


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory that is also the working directory, so problems name short paths."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
