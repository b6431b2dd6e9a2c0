"""The demo's world publishes new guestbook versions by itself when asked to."""

from kargo_dagster.demo.services import demo_services, next_version
from kargo_dagster.testing import free_port
from kargo_dagster.testing.polling import wait_until


def test_the_next_version_is_the_next_minor_release():
    assert next_version(["v0.1.0", "v0.2.0", "latest"]) == "v0.3.0"
    assert next_version(["v1.9.3", "v1.10.0"]) == "v1.11.0"
    assert next_version([]) == "v0.1.0"


def test_the_demo_publishes_a_new_version_every_interval(tmp_path):
    ports = {f"{name}_port": free_port() for name in ("registry", "git", "kube", "app")}
    with demo_services(tmp_path, publish_every=0.2, **ports) as services:
        wait_until(
            lambda: "v0.4.0" in services.published(),
            what=lambda: f"v0.4.0 (published: {services.published()})",
        )
        published = services.published()
    assert published[:4] == ["v0.1.0", "v0.2.0", "v0.3.0", "v0.4.0"]
