"""The demo's world publishes new guestbook versions by itself when asked to."""

import time

from kargo_dagster.testing.demo_services import demo_services, next_version
from tests.defs.test_demo import free_port


def test_the_next_version_is_the_next_minor_release():
    assert next_version(["v0.1.0", "v0.2.0", "latest"]) == "v0.3.0"
    assert next_version(["v1.9.3", "v1.10.0"]) == "v1.11.0"
    assert next_version([]) == "v0.1.0"


def test_the_demo_publishes_a_new_version_every_interval(tmp_path):
    ports = {f"{name}_port": free_port() for name in ("registry", "git", "kube", "app")}
    with demo_services(tmp_path, publish_every=0.2, **ports) as services:
        deadline = time.monotonic() + 30
        while "v0.4.0" not in services.published():
            assert time.monotonic() < deadline, services.published()
            time.sleep(0.1)
        published = services.published()
    assert published[:4] == ["v0.1.0", "v0.2.0", "v0.3.0", "v0.4.0"]
