"""URLs with credentials in them are refused wherever a manifest can hold one."""

from pathlib import Path

import pytest

from tests.spec.manifests import PROJECT, TASK, WAREHOUSE, join, load, problems, stage

SECRET = "s3cr3t-t0ken"


def _problems(here: Path, *documents: str) -> list[str]:
    found = problems(here, {"a.yaml": join(PROJECT, *documents)})
    assert not any(SECRET in line for line in found), found
    return found


@pytest.mark.parametrize(
    "subscription",
    [
        f"image:\n      repoURL: https://bob:{SECRET}@ghcr.io/example/app",
        f"image:\n      repoURL: bob:{SECRET}@ghcr.io/example/app",
        f"chart:\n      repoURL: https://bob:{SECRET}@charts.example.com\n      name: app",
        f"chart:\n      repoURL: oci://{SECRET}@ghcr.io/example/charts/app",
        f"git:\n      repoURL: https://{SECRET}@git.example.com/app.git",
    ],
)
def test_subscriptions_refuse_credentials(here: Path, subscription: str) -> None:
    warehouse = WAREHOUSE.replace("image:\n      repoURL: ghcr.io/example/app", subscription)
    [found] = _problems(here, warehouse)
    kind = subscription.partition(":")[0]
    assert found.startswith(
        f"a.yaml:14: Warehouse/app: spec.subscriptions.0.{kind}.repoURL: must not carry "
        "credentials; remove them from the URL and configure them as repository credentials"
    )


@pytest.mark.parametrize(
    "url", ["ssh://git@git.example.com/app.git", "git@git.example.com:example/app.git"]
)
def test_ssh_users_are_no_credentials(here: Path, url: str) -> None:
    warehouse = WAREHOUSE.replace(
        "image:\n      repoURL: ghcr.io/example/app", f"git:\n      repoURL: {url}"
    )
    load(here, {"a.yaml": join(PROJECT, warehouse)})


def test_step_configs_and_vars_refuse_credentials(here: Path) -> None:
    task = TASK.replace("  - name: branch\n    value: main\n", "").replace(
        "  - name: repoURL\n", f"  - name: repoURL\n    value: https://bob:{SECRET}@git.x/a.git\n"
    )
    steps = (
        "- task:\n    name: promote\n"
        f"- uses: git-clone\n  vars:\n  - name: u\n    value: https://{SECRET}@git.x/b.git\n"
        f"  config:\n    repoURL: https://bob:{SECRET}@${{{{ vars.host }}}}/c.git\n"
        "    checkout:\n    - branch: main\n      path: out\n"
    )
    found = _problems(here, WAREHOUSE, task, stage("dev", steps=steps))
    where = [line.split(": a URL here")[0] for line in found]
    assert where == [
        "a.yaml:24: PromotionTask/promote: spec.vars.0.value",
        "a.yaml:50: Stage/dev: spec.promotionTemplate.spec.steps.1.vars.0.value",
        "a.yaml:52: Stage/dev: spec.promotionTemplate.spec.steps.1.config.repoURL",
    ]
    assert all("must not carry credentials" in line for line in found)
    assert "KARGO_DAGSTER_CREDS_" in found[0]
