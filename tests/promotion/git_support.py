"""Helpers shared by the git step tests: contexts, remotes, schema checks, git queries."""

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kargo_dagster.credentials import NO_CREDENTIALS, CredentialStore
from kargo_dagster.freight import Freight, FreightOrigin, GitCommit
from kargo_dagster.promotion import schema_validation
from kargo_dagster.promotion.step import PromotionInfo, StepContext
from kargo_dagster.testing.git_remote import git_environment

PROMOTION_NAME = "dev.01jabcdefghijk.1234567"


def make_ctx(
    tmp_path: Path, *, credentials: CredentialStore = NO_CREDENTIALS, work: str = "work"
) -> StepContext:
    """A step context with its own work directory and a cache shared under ``tmp_path``."""
    freight = Freight(
        origin=FreightOrigin(name="app"),
        commits=(GitCommit(repo_url="https://git.example.com/app", id="a" * 40),),
    )
    promotion = PromotionInfo(
        project="demo",
        stage="dev",
        name=PROMOTION_NAME,
        freight=freight,
        collection={"app": freight},
    )
    work_dir = tmp_path / work
    work_dir.mkdir(parents=True, exist_ok=True)
    return StepContext(
        work_dir=work_dir,
        promotion=promotion,
        alias="step-1",
        credentials=credentials,
        git_cache_dir=tmp_path / "cache",
    )


def schema_errors(step: str, config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(path, message)`` of every violation of ``config`` the step's schema check reports.

    The messages are the product's own (:func:`~kargo_dagster.promotion.schema_validation.
    schema_errors`, what a refused step says), in its order; the path is written with
    slashes (``charts/0``, ``""`` for the whole configuration).
    """
    found: list[tuple[str, str]] = []
    for error in schema_validation.schema_errors(step, config):
        path, message = error.split(": ", 1)
        found.append(("" if path == "(root)" else path.replace(".", "/"), message))
    return found


def git(path: Path, *args: str) -> str:
    """Run git in ``path`` (a work tree or a bare repository) and return its output."""
    result = subprocess.run(
        ["git", "-C", str(path), *args],
        env=git_environment(),
        capture_output=True,
        check=True,
    )
    return result.stdout.decode().strip()


def write(path: Path, content: str) -> None:
    """Write ``content`` to ``path``, creating directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
