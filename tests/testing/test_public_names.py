"""`kargo_dagster.testing`'s public names: what users' own tests import from it."""

import subprocess
import sys

import pytest

import kargo_dagster.testing


def run_python(code: str) -> str:
    """What ``code`` prints in a fresh interpreter, where no test has imported anything yet."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_all_is_sorted_and_listed_by_dir():
    names = kargo_dagster.testing.__all__
    assert names == sorted(names)
    assert set(names) <= set(dir(kargo_dagster.testing))


def test_every_public_name_imports_in_a_fresh_interpreter():
    # In a fresh interpreter, so that the names load in __all__'s order rather than after
    # whatever the other tests imported.
    names = ", ".join(kargo_dagster.testing.__all__)
    code = f"from kargo_dagster.testing import {names}\nprint(all([{names}]))"
    assert run_python(code) == "True"


def test_a_public_name_is_the_object_its_submodule_defines():
    from kargo_dagster.testing import FakeKubeAPI, wait_until, webhook_senders
    from kargo_dagster.testing.kube_api import FakeKubeAPI as defined
    from kargo_dagster.testing.polling import wait_until as waiting

    assert FakeKubeAPI is defined and wait_until is waiting
    assert webhook_senders.__name__ == "kargo_dagster.testing.webhook_senders"


def test_importing_the_package_loads_none_of_the_servers():
    code = (
        "import sys, kargo_dagster.testing\n"
        "print(sorted(m for m in sys.modules if m.startswith('kargo_dagster.testing.')))\n"
    )
    assert run_python(code) == "[]"


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="FakeCluster"):
        kargo_dagster.testing.FakeCluster  # noqa: B018
