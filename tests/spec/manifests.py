"""Small manifests and helpers shared by the spec tests."""

import textwrap
from pathlib import Path

import pytest

from kargo_dagster.errors import ManifestError
from kargo_dagster.spec import Catalog, load_manifests

PROJECT = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: demo
"""

WAREHOUSE = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: demo
spec:
  subscriptions:
  - image:
      repoURL: ghcr.io/example/app
"""

TASK = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionTask
metadata:
  name: promote
  namespace: demo
spec:
  vars:
  - name: repoURL
  - name: branch
    value: main
  steps:
  - uses: git-clone
    config:
      repoURL: ${{ vars.repoURL }}
"""


def stage(name: str, sources: str = "direct: true", steps: str = "- uses: fail") -> str:
    """A Stage requesting Freight from Warehouse ``app``; ``sources`` and ``steps`` are YAML."""
    return (
        "apiVersion: kargo.akuity.io/v1alpha1\n"
        "kind: Stage\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  namespace: demo\n"
        "spec:\n"
        "  requestedFreight:\n"
        "  - origin:\n"
        "      kind: Warehouse\n"
        "      name: app\n"
        "    sources:\n"
        f"{textwrap.indent(sources, '      ')}\n"
        "  promotionTemplate:\n"
        "    spec:\n"
        "      steps:\n"
        f"{textwrap.indent(steps, '      ')}\n"
    )


def join(*documents: str) -> str:
    """A multi-document YAML stream."""
    return "---\n".join(documents)


def write(root: Path, files: dict[str, str]) -> Path:
    """Writes ``files`` (relative name → content) under ``root``."""
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def load(root: Path, files: dict[str, str]) -> Catalog:
    """Writes ``files`` into ``root`` (the current directory) and loads ``"."``."""
    write(root, files)
    return load_manifests(".")


def problems(root: Path, files: dict[str, str]) -> list[str]:
    """Writes ``files`` and returns the problems of loading them, as strings."""
    write(root, files)
    with pytest.raises(ManifestError) as caught:
        load_manifests(".")
    return [str(problem) for problem in caught.value.problems]
