"""The example pipeline's Dagster definitions, built from the Kargo manifests in ``stages/``."""

from pathlib import Path

from kargo_dagster import load_definitions

defs = load_definitions(Path(__file__).parent / "stages")
