"""A discovery pass ends when its budget is spent, saying which request it cut off.

The repositories are a real server dribbling one byte every half second for a minute: no
read times out and each request's own deadline (a minute) is far away, so only the pass's
budget (2 s) can end it: the outcome names the cut-off request and the budget. A hang alarm
half-way through the server's minute only stops a pass that never ends.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.credentials import NO_CREDENTIALS
from kargo_dagster.discovery.subscribers import build_subscribers
from kargo_dagster.discovery.warehouse import discover_warehouse
from kargo_dagster.spec import Warehouse, load_manifests
from kargo_dagster.testing.dribbling_server import DribblingServer
from tests.hang_alarm import hang_alarm
from tests.manifests import manifests_yaml, project
from tests.manifests import warehouse as warehouse_manifest

BUDGET = 2.0
DRIBBLE_SECONDS = 60.0
# A pass still going after half the dribble hangs.
WELL_BEFORE = DRIBBLE_SECONDS / 2


@pytest.fixture
def dribbling() -> Iterator[DribblingServer]:
    with DribblingServer(interval=0.5, duration=DRIBBLE_SECONDS) as server:
        yield server


def warehouse(tmp_path: Path, subscriptions: list[dict[str, Any]]) -> Warehouse:
    app = warehouse_manifest("app", "demo", subscriptions=subscriptions)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "w.yaml").write_text(manifests_yaml(project("demo"), app))
    return load_manifests(tmp_path / "manifests").projects["demo"].warehouses["app"]


def test_the_budget_cuts_the_request_under_way_and_skips_the_rest(
    tmp_path: Path, dribbling: DribblingServer
) -> None:
    subscriptions = [
        {"image": {"repoURL": f"{dribbling.host}/app"}},
        {"chart": {"repoURL": f"{dribbling.url}/charts", "name": "app"}},
    ]
    subscribers = build_subscribers(credentials=NO_CREDENTIALS, work_dir=tmp_path, timeout=5.0)

    with hang_alarm(WELL_BEFORE, "discovery"):
        result = discover_warehouse(
            warehouse(tmp_path, subscriptions), subscribers, budget_seconds=BUDGET
        )

    image, chart = result.outcomes
    assert image.error is not None
    assert (
        f"GET {dribbling.url}/v2/app/tags/list exceeded the discovery budget of Warehouse "
        "'app' (2 s)"
    ) in image.error
    assert chart.error == (
        "not tried: the discovery budget of Warehouse 'app' (2 s) was spent before its turn"
    )
    assert result.freight is None
    # The chart's repository was never asked.
    assert [path for _, path in dribbling.requests] == ["/v2/app/tags/list?n=1000"]


def test_the_budget_stops_a_git_command(tmp_path: Path, dribbling: DribblingServer) -> None:
    subscriptions = [{"git": {"repoURL": f"{dribbling.url}/app.git"}}]
    subscribers = build_subscribers(credentials=NO_CREDENTIALS, work_dir=tmp_path)

    with hang_alarm(WELL_BEFORE, "discovery"):
        result = discover_warehouse(
            warehouse(tmp_path, subscriptions), subscribers, budget_seconds=BUDGET
        )

    (git,) = result.outcomes
    assert git.error is not None
    assert "was stopped: the discovery budget of Warehouse 'app' (2 s) ran out" in git.error
