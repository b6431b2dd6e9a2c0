"""The curated public API."""

import subprocess
import sys

import kargo_dagster


def test_all_is_sorted_and_importable():
    assert kargo_dagster.__all__ == sorted(kargo_dagster.__all__)
    for name in kargo_dagster.__all__:
        assert getattr(kargo_dagster, name) is not None


def test_importing_the_manifest_model_does_not_load_dagster():
    code = "import kargo_dagster, kargo_dagster.spec, sys; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_both_dagster_integrations_import():
    # An unpinned install resolves integrations from 2021 that install but fail on import.
    from importlib.metadata import version

    import dagster_k8s
    import dagster_postgres

    assert dagster_k8s.K8sRunLauncher and dagster_postgres.DagsterPostgresStorage
    assert version("dagster-k8s") == version("dagster-postgres") == "0.29.27"
