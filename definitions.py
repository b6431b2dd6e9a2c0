"""The example pipeline's Dagster definitions, built from the Kargo manifests in ``stages/``.

Argo CD is reached through the Kubernetes API that ``kargo-dagster demo`` simulates on
127.0.0.1:8432; point ``ArgoCDKubernetes`` at your cluster (or leave it out to use your
kubeconfig) to run the pipeline for real.
"""

from pathlib import Path

from kargo_dagster import load_definitions
from kargo_dagster.defs.resources import ArgoCDKubernetes, ArgoCDSettings, KargoResource

defs = load_definitions(
    Path(__file__).parent / "stages",
    resources={
        "kargo": KargoResource(
            argocd=ArgoCDSettings(
                kubernetes=ArgoCDKubernetes(host="http://127.0.0.1:8432"),
                poll_interval_seconds=1,
            )
        )
    },
)
