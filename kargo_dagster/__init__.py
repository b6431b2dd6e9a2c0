"""kargo-dagster: Kargo's GitOps promotion model (Warehouse, Freight, Stage) on Dagster.

Write ordinary Kargo manifests, then build Dagster definitions from them::

    from kargo_dagster import load_definitions

    defs = load_definitions("stages")

The names that need Dagster are imported on first use, so that the manifest model and the
command line's ``validate`` start without loading Dagster. ``KargoProject`` is the ``dg``
Component (``dg scaffold defs kargo_dagster.KargoProject <folder>``); ``dg`` finds it through
this package's ``dagster_dg_cli.registry_modules`` entry point.
"""

import importlib
from typing import TYPE_CHECKING, Any

from kargo_dagster.errors import (
    FreightError,
    KargoDagsterError,
    ManifestError,
    ManifestProblem,
    PromotionRefusedError,
)
from kargo_dagster.freight import Chart, Freight, GitCommit, Image
from kargo_dagster.spec import Catalog, ProjectManifests, load_manifests

if TYPE_CHECKING:
    from kargo_dagster.defs.approvals import approve_freight
    from kargo_dagster.defs.builder import (
        build_definitions,
        build_project_definitions,
        load_definitions,
    )
    from kargo_dagster.defs.component import KargoProject
    from kargo_dagster.defs.freight_store import record_freight

_LAZY = {
    "KargoProject": "kargo_dagster.defs.component",
    "approve_freight": "kargo_dagster.defs.approvals",
    "build_definitions": "kargo_dagster.defs.builder",
    "build_project_definitions": "kargo_dagster.defs.builder",
    "load_definitions": "kargo_dagster.defs.builder",
    "record_freight": "kargo_dagster.defs.freight_store",
}

__all__ = [
    "Catalog",
    "Chart",
    "Freight",
    "FreightError",
    "GitCommit",
    "Image",
    "KargoDagsterError",
    "KargoProject",
    "ManifestError",
    "ManifestProblem",
    "ProjectManifests",
    "PromotionRefusedError",
    "approve_freight",
    "build_definitions",
    "build_project_definitions",
    "load_definitions",
    "load_manifests",
    "record_freight",
]


def __dir__() -> list[str]:
    # dg lists a registry module's components with dir(), so the lazy names are listed too.
    return sorted({*globals(), *_LAZY})


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kargo_dagster' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
