"""Kargo's Argo CD health rules: per Application, per Stage, and the wait for a verdict."""

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kargo_dagster.clients.argocd.applications import ArgoCDError
from kargo_dagster.clients.argocd.kubernetes_api import KubernetesArgoCDApplications
from kargo_dagster.testing.argocd_sim import ArgoCDSimulator, application
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.verification.argocd_health import (
    REFRESH_ANNOTATION,
    AppHealthCheck,
    HealthCriterion,
    HealthState,
    StageHealth,
    check_stage,
    hard_refresh_patch,
    settle,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "argocd"
REPO = "https://github.com/acme/deploy.git"
CHARTS = "https://charts.example.com"
SHA_A, SHA_B = "a" * 40, "b" * 40
FINISHED = "2025-03-01T09:00:05Z"
APP = 'Argo CD Application "guestbook" in namespace "argocd"'


class Applications:
    """Argo CD as a table of Applications: what a reader sees, and every read it got."""

    def __init__(self, *apps: dict[str, Any]) -> None:
        self.apps: dict[tuple[str, str], dict[str, Any]] = {}
        self.reads: list[tuple[str, str]] = []
        self.error: ArgoCDError | None = None
        for app in apps:
            self.put(app)

    def put(self, app: dict[str, Any], name: str | None = None) -> None:
        meta = app.get("metadata") or {}
        key = (meta.get("namespace", "argocd"), name or meta["name"])
        self.apps[key] = copy.deepcopy(app)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append((namespace, name))
        if self.error is not None:
            raise self.error
        app = self.apps.get((namespace, name))
        return copy.deepcopy(app) if app is not None else None


def deployed(
    name: str = "guestbook",
    *,
    health: str | None = "Healthy",
    revision: str = SHA_B,
    finished_at: str | None = FINISHED,
    reconciled_at: str | None = "2025-03-01T09:00:06Z",
    namespace: str = "argocd",
) -> dict[str, Any]:
    """An Application after Argo CD synced it to ``revision`` and refreshed it (Kargo's t=6)."""
    status: dict[str, Any] = {
        "sync": {
            "status": "Synced",
            "revision": revision,
            "comparedTo": {"source": {"repoURL": REPO, "path": ".", "targetRevision": "stage"}},
        },
        "operationState": {
            "operation": {"sync": {"revision": revision}},
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": "2025-03-01T09:00:01Z",
            "finishedAt": finished_at,
            "syncResult": {"revision": revision},
        },
        "resources": [{"kind": "Deployment", "name": name, "status": "Synced"}],
    }
    if health is not None:
        status["health"] = {"status": health}
    if reconciled_at is not None:
        status["reconciledAt"] = reconciled_at
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": REPO, "path": ".", "targetRevision": "stage"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        },
        "status": status,
    }


def multi_source(revisions: list[str]) -> dict[str, Any]:
    """A deployed Application with a chart source and a git source at ``revisions``."""
    app = deployed()
    app["spec"].pop("source")
    app["spec"]["sources"] = [
        {"repoURL": CHARTS, "chart": "guestbook", "targetRevision": "1.2.3"},
        {"repoURL": REPO, "path": ".", "targetRevision": "stage", "ref": "values"},
    ]
    app["status"]["sync"].pop("revision")
    app["status"]["sync"]["revisions"] = revisions
    return app


def criterion(*apps: dict[str, Any]) -> dict[str, Any]:
    """The health criterion as argocd-update records it."""
    return {"kind": "argocd-update", "apps": list(apps)}


def want(name: str = "guestbook", *revisions: str, namespace: str = "argocd") -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "desiredRevisions": list(revisions)}


def health_of(app: dict[str, Any], *revisions: str) -> StageHealth:
    return check_stage(Applications(app), criterion(want("guestbook", *revisions)))


# Rule 1: the Application must exist --------------------------------------------------------


def test_a_missing_application_is_unknown():
    result = check_stage(Applications(), criterion(want("guestbook", SHA_B)))
    assert result.status is HealthState.UNKNOWN
    assert result.issues == (
        'unable to find Argo CD Application "guestbook" in namespace "argocd"',
    )
    assert result.to_json()["applicationStatuses"] == [
        {
            "namespace": "argocd",
            "name": "guestbook",
            "health": {"status": "Unknown"},
            "sync": {"status": "Unknown"},
        }
    ]
    assert not result.settled


def test_an_application_that_cannot_be_read_is_unknown_and_credentials_stay_hidden():
    argocd = Applications(deployed())
    argocd.error = ArgoCDError(
        "GET https://admin:hunter2@kube.example.com/apis/argoproj.io: 503 Service Unavailable",
        status=503,
        retryable=True,
    )
    result = check_stage(argocd, criterion(want()))
    assert result.status is HealthState.UNKNOWN
    assert result.issues == (
        f"error finding {APP}: GET "
        "https://admin:xxxxx@kube.example.com/apis/argoproj.io: 503 Service Unavailable",
    )
    assert "hunter2" not in json.dumps(result.to_json())


def test_an_application_argo_cd_could_not_have_written_is_unknown_naming_the_field():
    app = deployed(reconciled_at="yesterday")
    result = health_of(app)
    assert result.status is HealthState.UNKNOWN
    assert result.issues == (
        f'error finding {APP}: status.reconciledAt: "yesterday" is not an RFC 3339 timestamp',
    )


# Rule 2: health older than the last operation is not trusted ------------------------------


@pytest.mark.parametrize("reconciled_at", [None, "2025-03-01T09:00:04Z"])
def test_health_from_before_the_last_operation_is_unknown_and_asks_for_a_refresh(reconciled_at):
    # Healthy and at the desired revision, but the health predates the sync.
    result = health_of(deployed(reconciled_at=reconciled_at), SHA_B)
    assert result.status is HealthState.UNKNOWN
    assert result.issues == (
        f"{APP} was not reconciled after its most recent operation completed; "
        "Application health status not trusted",
    )
    assert result.refresh_requests == (("argocd", "guestbook"),)


def test_a_reconcile_in_the_same_second_as_the_operation_is_trusted():
    result = health_of(deployed(reconciled_at=FINISHED), SHA_B)
    assert result.status is HealthState.HEALTHY
    assert result.refresh_requests == ()


def test_the_staleness_rule_compares_instants_not_text():
    # 10:00:05+01:00 is 09:00:05Z: the same instant as finishedAt.
    result = health_of(deployed(reconciled_at="2025-03-01T10:00:05+01:00"), SHA_B)
    assert result.status is HealthState.HEALTHY


def test_an_application_never_synced_is_not_stale():
    app = deployed()
    del app["status"]["operationState"]
    assert health_of(app).status is HealthState.HEALTHY


# Rule 3: error conditions -----------------------------------------------------------------


def test_comparison_and_spec_errors_make_it_unhealthy_with_one_issue_each():
    app = deployed()
    app["status"]["conditions"] = [
        {"type": "SharedResourceWarning", "message": "shared with another app"},
        {
            "type": "ComparisonError",
            "message": "Failed to load target state: https://bot:tok3n@git.example.com/x.git",
            "lastTransitionTime": "2025-03-01T09:00:06Z",
        },
        {"type": "InvalidSpecError", "message": "application destination is invalid"},
    ]
    # A sync in progress would be Unknown, but an error condition decides first.
    app["operation"] = {"sync": {}}
    result = health_of(app, SHA_B)
    assert result.status is HealthState.UNHEALTHY
    assert result.issues == (
        f'{APP} has "ComparisonError" condition: Failed to load target state: '
        "https://bot:xxxxx@git.example.com/x.git",
        f'{APP} has "InvalidSpecError" condition: application destination is invalid',
    )


def test_other_conditions_do_not_affect_health():
    app = deployed()
    app["status"]["conditions"] = [{"type": "SyncError", "message": "previous sync failed"}]
    assert health_of(app, SHA_B).status is HealthState.HEALTHY


# Rule 4: the sync revisions ---------------------------------------------------------------


def sync_in_progress(app: dict[str, Any]) -> dict[str, Any]:
    app["operation"] = {"sync": {"syncOptions": []}, "initiatedBy": {"username": "admin"}}
    return app


def sync_not_started(app: dict[str, Any]) -> dict[str, Any]:
    del app["status"]["operationState"]
    return app


def sync_running(app: dict[str, Any]) -> dict[str, Any]:
    app["status"]["operationState"]["phase"] = "Running"
    del app["status"]["operationState"]["finishedAt"]
    return app


@pytest.mark.parametrize("in_progress", [sync_in_progress, sync_not_started, sync_running])
def test_a_sync_in_progress_is_unknown_when_revisions_are_expected(in_progress):
    result = health_of(in_progress(deployed()), SHA_B)
    assert result.status is HealthState.UNKNOWN
    assert result.issues == (f"{APP} is being synced",)
    assert result.refresh_requests == ()


@pytest.mark.parametrize("revisions", [(), ("",)])
def test_without_desired_revisions_a_sync_in_progress_does_not_matter(revisions):
    result = health_of(sync_in_progress(deployed()), *revisions)
    assert result.status is HealthState.HEALTHY


def test_a_single_source_at_another_revision_is_unhealthy():
    result = health_of(deployed(revision=SHA_A), SHA_B)
    assert result.status is HealthState.UNHEALTHY
    assert result.issues == (
        'Not all sources of Application "guestbook" in namespace "argocd" are synced to the '
        f"desired revisions. Issues: Source 0 with RepoURL {REPO} of Application "
        f'"guestbook" in namespace "argocd" does not match the desired revision "{SHA_B}".',
    )


def test_the_revision_counts_even_while_argo_cd_still_reports_healthy_from_before():
    # Sync is checked before health: the wrong revision is reported, not the health.
    result = health_of(deployed(revision=SHA_A, health="Progressing"), SHA_B)
    assert result.status is HealthState.UNHEALTHY
    assert "does not match the desired revision" in result.issues[0]


def test_the_sync_status_itself_is_not_consulted():
    app = deployed()
    app["status"]["sync"]["status"] = "OutOfSync"
    assert health_of(app, SHA_B).status is HealthState.HEALTHY


def test_multi_source_revisions_are_compared_by_position_skipping_empty_ones():
    app = multi_source(["1.2.3", SHA_A])
    assert health_of(app, "", SHA_A).status is HealthState.HEALTHY
    assert health_of(app, "1.2.3", SHA_A).status is HealthState.HEALTHY
    result = health_of(app, "1.2.4", SHA_B)
    assert result.status is HealthState.UNHEALTHY
    assert result.issues == (
        'Not all sources of Application "guestbook" in namespace "argocd" are synced to the '
        f"desired revisions. Issues: Source 0 with RepoURL {CHARTS} of Application "
        '"guestbook" in namespace "argocd" does not match the desired revision "1.2.4".; '
        f"Source 1 with RepoURL {REPO} of Application "
        f'"guestbook" in namespace "argocd" does not match the desired revision "{SHA_B}".',
    )


def test_a_repository_url_with_credentials_is_masked_in_issues():
    app = deployed(revision=SHA_A)
    app["spec"]["source"]["repoURL"] = "https://kargo:ghp_secret@github.com/acme/deploy.git"
    result = health_of(app, SHA_B)
    assert "https://kargo:xxxxx@github.com/acme/deploy.git" in result.issues[0]
    assert "ghp_secret" not in json.dumps(result.to_json())


def test_desired_revisions_that_do_not_fit_the_sources_are_unknown():
    result = health_of(deployed(), SHA_A, SHA_B)
    assert result.status is HealthState.UNKNOWN
    assert result.issues == (f"{APP} has 1 sources but 2 desired revisions",)

    app = multi_source([SHA_A])
    result = health_of(app, "", SHA_A)
    assert result.status is HealthState.UNKNOWN
    assert result.issues == (f"{APP} has 1 observed revisions but 2 desired revisions",)


def test_an_application_without_sources_cannot_match_desired_revisions():
    app = deployed()
    del app["spec"]["source"]
    result = health_of(app, SHA_B)
    assert result.status is HealthState.UNKNOWN
    assert result.issues == (f"{APP} has 0 sources but 1 desired revisions",)


# Rule 5: Argo CD's health -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("argocd_health", "state", "issue"),
    [
        ("Healthy", HealthState.HEALTHY, None),
        ("Progressing", HealthState.PROGRESSING, f"{APP} is progressing"),
        ("", HealthState.PROGRESSING, f"{APP} is progressing"),
        (None, HealthState.PROGRESSING, f"{APP} is progressing"),
        ("Suspended", HealthState.PROGRESSING, f"{APP} is suspended"),
        ("Degraded", HealthState.UNHEALTHY, f'{APP} has health state "Degraded"'),
        ("Missing", HealthState.UNHEALTHY, f'{APP} has health state "Missing"'),
        ("Unknown", HealthState.UNHEALTHY, f'{APP} has health state "Unknown"'),
    ],
)
def test_argo_cd_health_maps_to_stage_health(argocd_health, state, issue):
    result = health_of(deployed(health=argocd_health), SHA_B)
    assert result.status is state
    assert result.issues == ((issue,) if issue else ())
    assert result.apps[0].status is state


# The Stage: aggregation ---------------------------------------------------------------------

ORDER = [
    HealthState.HEALTHY,
    HealthState.NOT_APPLICABLE,
    HealthState.PROGRESSING,
    HealthState.UNKNOWN,
    HealthState.UNHEALTHY,
]


@pytest.mark.parametrize("better", range(len(ORDER)))
@pytest.mark.parametrize("worse", range(len(ORDER)))
def test_merging_keeps_the_worse_state(better, worse):
    if better > worse:
        better, worse = worse, better
    assert ORDER[better].merge(ORDER[worse]) is ORDER[worse]
    assert ORDER[worse].merge(ORDER[better]) is ORDER[worse]


@pytest.mark.parametrize(
    ("state", "settled"),
    [
        (HealthState.HEALTHY, True),
        (HealthState.NOT_APPLICABLE, True),
        (HealthState.PROGRESSING, False),
        (HealthState.UNKNOWN, False),
        (HealthState.UNHEALTHY, True),
    ],
)
def test_only_progressing_and_unknown_are_worth_waiting_for(state, settled):
    assert state.settled is settled


@pytest.mark.parametrize("criteria", [[], [criterion()], {"kind": "argocd-update", "apps": None}])
def test_a_stage_with_nothing_registered_is_healthy(criteria):
    result = check_stage(Applications(), criteria)
    assert result == StageHealth(HealthState.HEALTHY, (), ())
    assert result.to_json() == {"status": "Healthy", "issues": [], "applicationStatuses": []}
    assert result.description == "Healthy"


def test_the_stage_is_the_worst_of_its_applications_with_every_issue_in_order():
    argocd = Applications(
        deployed("frontend"),
        deployed("backend", health="Progressing"),
        deployed("worker", health="Degraded"),
        deployed("cron", reconciled_at=None),
    )
    first = criterion(want("frontend", SHA_B), want("backend", SHA_B))
    second = criterion(want("worker"), want("cron"))
    result = check_stage(argocd, [first, second])
    assert result.status is HealthState.UNHEALTHY
    assert [(a.name, a.status) for a in result.apps] == [
        ("frontend", HealthState.HEALTHY),
        ("backend", HealthState.PROGRESSING),
        ("worker", HealthState.UNHEALTHY),
        ("cron", HealthState.UNKNOWN),
    ]
    assert result.issues == (
        'Argo CD Application "backend" in namespace "argocd" is progressing',
        'Argo CD Application "worker" in namespace "argocd" has health state "Degraded"',
        'Argo CD Application "cron" in namespace "argocd" was not reconciled after its most '
        "recent operation completed; Application health status not trusted",
    )
    assert result.refresh_requests == (("argocd", "cron"),)
    assert result.description == "Unhealthy: " + "; ".join(result.issues)

    without_worker = check_stage(argocd, [first, criterion(want("cron"))])
    assert without_worker.status is HealthState.UNKNOWN


def test_applications_without_a_namespace_are_looked_up_in_the_default_one():
    argocd = Applications(deployed(namespace="argo"))
    result = check_stage(argocd, criterion({"name": "guestbook"}), default_namespace="argo")
    assert result.status is HealthState.HEALTHY
    assert argocd.reads == [("argo", "guestbook")]


def test_criteria_are_accepted_as_models_or_in_kargos_promotion_form():
    argocd = Applications(deployed())
    model = HealthCriterion(apps=(AppHealthCheck(name="guestbook", desired_revisions=(SHA_A,)),))
    kargo_form = {"uses": "argocd-update", "config": {"apps": [want("guestbook", SHA_A)]}}
    for form in (model, kargo_form):
        result = check_stage(argocd, form)
        assert result.status is HealthState.UNHEALTHY
        assert "does not match the desired revision" in result.issues[0]


def test_a_criterion_of_another_kind_is_unknown():
    result = check_stage(Applications(deployed()), [criterion(want()), {"kind": "http-get"}])
    assert result.status is HealthState.UNKNOWN
    assert result.issues == ('no health checker registered for health check kind "http-get"',)
    assert [a.name for a in result.apps] == ["guestbook"]


def test_a_criterion_that_cannot_be_read_is_unknown_saying_where():
    result = check_stage(
        Applications(deployed()),
        criterion({"namespace": "argocd"}, {"name": "guestbook", "desiredRevisions": "abc"}),
    )
    assert result.status is HealthState.UNKNOWN
    assert result.issues == (
        "could not convert opaque input into argocd-update health check input: "
        "apps.0.name: Field required; apps.1.desiredRevisions: Input should be a valid tuple",
    )


def test_without_an_argo_cd_connection_the_stage_is_unknown():
    result = check_stage(None, criterion(want()))
    assert result.status is HealthState.UNKNOWN
    assert result.issues == (
        "no Argo CD connection is configured; cannot assess the health or sync status of "
        "Argo CD Applications",
    )
    assert check_stage(None, []).status is HealthState.HEALTHY


# The status summary -------------------------------------------------------------------------


def test_the_summary_describes_the_application_without_what_changes_on_every_refresh():
    app = deployed()
    app["status"]["health"]["message"] = "all replicas ready"
    app["status"]["conditions"] = [
        {
            "type": "SyncError",
            "message": "failed to reach https://bot:tok3n@git.example.com",
            "lastTransitionTime": "2025-03-01T09:00:06Z",
        }
    ]
    result = health_of(app, SHA_B)
    assert result.to_json() == {
        "status": "Healthy",
        "issues": [],
        "applicationStatuses": [
            {
                "namespace": "argocd",
                "name": "guestbook",
                "health": {"status": "Healthy", "message": "all replicas ready"},
                "sync": {"status": "Synced", "revision": SHA_B},
                "operationState": {
                    "phase": "Succeeded",
                    "message": "successfully synced (all tasks run)",
                    "startedAt": "2025-03-01T09:00:01Z",
                    "finishedAt": FINISHED,
                    "syncResult": {"revision": SHA_B},
                },
                "conditions": [
                    {
                        "type": "SyncError",
                        "message": "failed to reach https://bot:xxxxx@git.example.com",
                    }
                ],
            }
        ],
    }
    assert result.apps[0].to_json() == {
        "namespace": "argocd",
        "name": "guestbook",
        "status": "Healthy",
        "issues": [],
        "applicationStatus": result.to_json()["applicationStatuses"][0],
    }

    # Argo CD reconciles again, and a condition clears and comes back: nothing to report.
    app["status"]["reconciledAt"] = "2025-03-01T09:03:06Z"
    app["status"]["conditions"][0]["lastTransitionTime"] = "2025-03-01T09:03:06Z"
    assert health_of(app, SHA_B).to_json() == result.to_json()


def test_the_summary_of_a_multi_source_application_lists_its_revisions():
    summary = health_of(multi_source(["1.2.3", SHA_A])).to_json()["applicationStatuses"][0]
    assert summary["sync"] == {"status": "Synced", "revisions": ["1.2.3", SHA_A]}


# Waiting for a verdict ----------------------------------------------------------------------


class Timeline:
    """A clock in seconds whose sleeps let Argo CD move on: ``then[i]`` runs after sleep i."""

    def __init__(self, *then: Callable[[], None]) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.then = list(then)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.then:
            self.then.pop(0)()


def test_settle_waits_through_progressing_until_healthy():
    argocd = Applications(deployed(health="Progressing"))
    timeline = Timeline(lambda: None, lambda: argocd.put(deployed(health="Healthy")))
    result = settle(
        argocd,
        criterion(want("guestbook", SHA_B)),
        timeout=60,
        interval=5,
        clock=timeline.clock,
        sleep=timeline.sleep,
    )
    assert result.status is HealthState.HEALTHY
    assert timeline.sleeps == [5, 5]
    assert len(argocd.reads) == 3


def test_settle_returns_an_unhealthy_verdict_at_once():
    argocd = Applications(deployed(health="Degraded"))
    timeline = Timeline()
    result = settle(
        argocd,
        criterion(want()),
        timeout=60,
        interval=5,
        clock=timeline.clock,
        sleep=timeline.sleep,
    )
    assert result.status is HealthState.UNHEALTHY
    assert timeline.sleeps == []


def test_settle_gives_the_last_answer_when_time_runs_out_checking_at_the_deadline():
    argocd = Applications(deployed(health="Progressing"))
    timeline = Timeline()
    result = settle(
        argocd,
        criterion(want()),
        timeout=12,
        interval=5,
        clock=timeline.clock,
        sleep=timeline.sleep,
    )
    assert result.status is HealthState.PROGRESSING
    assert timeline.sleeps == [5, 5, 2]
    assert len(argocd.reads) == 4


def test_settle_with_no_time_checks_once():
    argocd = Applications()
    timeline = Timeline()
    result = settle(
        argocd, criterion(want()), timeout=0, interval=5, clock=timeline.clock, sleep=timeline.sleep
    )
    assert result.status is HealthState.UNKNOWN
    assert timeline.sleeps == []
    assert len(argocd.reads) == 1


def test_settle_without_an_argo_cd_connection_does_not_wait():
    timeline = Timeline()
    result = settle(
        None, criterion(want()), timeout=60, interval=5, clock=timeline.clock, sleep=timeline.sleep
    )
    assert result.status is HealthState.UNKNOWN
    assert timeline.sleeps == []


def test_settle_asks_argo_cd_to_refresh_stale_applications_until_it_has():
    argocd = Applications(deployed(reconciled_at="2025-03-01T09:00:00Z"))
    requests: list[tuple[str, str]] = []

    def refresh(namespace: str, name: str) -> None:
        requests.append((namespace, name))
        if len(requests) == 1:
            raise ArgoCDError("Argo CD API unreachable", retryable=True)

    # Argo CD honours the second request.
    timeline = Timeline(lambda: None, lambda: argocd.put(deployed()))
    result = settle(
        argocd,
        criterion(want("guestbook", SHA_B)),
        timeout=60,
        interval=5,
        clock=timeline.clock,
        sleep=timeline.sleep,
        refresh=refresh,
    )
    assert result.status is HealthState.HEALTHY
    assert requests == [("argocd", "guestbook"), ("argocd", "guestbook")]


@pytest.mark.parametrize(("timeout", "interval"), [(-1, 5), (60, 0), (60, -1)])
def test_settle_rejects_a_wait_that_makes_no_sense(timeout, interval):
    with pytest.raises(ValueError, match="health"):
        settle(Applications(), [], timeout=timeout, interval=interval)


def test_the_refresh_request_is_argo_cds_hard_refresh_annotation():
    assert hard_refresh_patch() == {
        "metadata": {"annotations": {"argocd.argoproj.io/refresh": "hard"}}
    }
    assert REFRESH_ANNOTATION == "argocd.argoproj.io/refresh"


# Against the Argo CD simulator ----------------------------------------------------------------


class Ticks:
    """The API server's clock: one second further at each reading."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def simulated() -> Iterator[tuple[FakeKubeAPI, ArgoCDSimulator, KubernetesArgoCDApplications]]:
    with FakeKubeAPI(clock=Ticks()) as kube:
        sim = ArgoCDSimulator(kube)
        sim.set_revision(REPO, "main", SHA_A)
        sim.set_revision(REPO, "stage", SHA_B)
        kube.add(application("guestbook", REPO, "main"))
        sim.settle()
        with KubernetesArgoCDApplications(kube.api_client()) as client:
            yield kube, sim, client


def start_sync(client: KubernetesArgoCDApplications, target: str) -> None:
    """Point the app at ``target`` and start a sync, as argocd-update does."""
    client.patch(
        "argocd",
        "guestbook",
        {
            "metadata": {"annotations": {REFRESH_ANNOTATION: "hard"}},
            "spec": {"source": {"targetRevision": target}},
            "operation": {
                "initiatedBy": {"username": "kargo-controller", "automated": True},
                "sync": {},
            },
        },
    )


def test_settle_follows_a_real_sync_to_healthy(simulated):
    _, sim, client = simulated
    start_sync(client, "stage")
    wanted = criterion(want("guestbook", SHA_B))
    seen: list[HealthState] = []

    def sleep(seconds: float) -> None:
        # What the check saw before this wait; then Argo CD moves on.
        seen.append(check_stage(client, wanted).status)
        sim.step()

    result = settle(client, wanted, timeout=120, interval=1, sleep=sleep)
    assert result.status is HealthState.HEALTHY, result.issues
    # Unknown while the sync runs, then Progressing until the rollout is done.
    assert seen[0] is HealthState.UNKNOWN
    assert seen[-1] is HealthState.PROGRESSING


def test_settle_gets_a_stalled_refresh_going_and_reports_a_failed_rollout(simulated):
    _, sim, client = simulated
    sim.health_after_sync("guestbook", status="Degraded", message="progress deadline exceeded")
    start_sync(client, "stage")
    for _ in range(20):
        app = client.get("argocd", "guestbook")
        assert app is not None
        if app["status"].get("operationState", {}).get("phase") == "Succeeded":
            break
        sim.step()
        sim.stall_refresh("guestbook")
    stale = check_stage(client, criterion(want("guestbook", SHA_B)))
    assert stale.status is HealthState.UNKNOWN
    assert stale.refresh_requests == (("argocd", "guestbook"),)

    def refresh(namespace: str, name: str) -> None:
        client.patch(namespace, name, hard_refresh_patch())
        sim.resume_refresh(name, namespace)

    result = settle(
        client,
        criterion(want("guestbook", SHA_B)),
        timeout=120,
        interval=1,
        sleep=lambda _: sim.step(),
        refresh=refresh,
    )
    assert result.status is HealthState.UNHEALTHY
    assert result.issues == (f'{APP} has health state "Degraded"',)
    assert result.to_json()["applicationStatuses"][0]["health"] == {
        "status": "Degraded",
        "message": "progress deadline exceeded",
    }


# Recorded Applications --------------------------------------------------------------------


def recorded(name: str) -> dict[str, Any]:
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


@pytest.mark.parametrize(
    ("fixture", "app", "revisions", "state", "issue"),
    [
        # reconciledAt == finishedAt: trusted; status.sync.revision is what counts.
        ("argo-cd__controller__testdata__diff-cache.yaml", "velero-test", (), "Healthy", None),
        (
            "argo-cd__controller__testdata__diff-cache.yaml",
            "velero-test",
            ("rev1",),
            "Healthy",
            None,
        ),
        (
            "argo-cd__controller__testdata__diff-cache.yaml",
            "velero-test",
            ("ea8759964626a583667a2bfd08f334ec2070040a",),
            "Unhealthy",
            "does not match the desired revision",
        ),
        # Spec only: never reconciled, never synced.
        (
            "argo-cd__controller__testdata__live-child-application.yaml",
            "argo-workflows",
            (),
            "Progressing",
            "is progressing",
        ),
        (
            "argo-cd__controller__testdata__live-child-application.yaml",
            "argo-workflows",
            ("0.45.27",),
            "Unknown",
            "is being synced",
        ),
        (
            "argo-cd__gitops-engine__health__application-healthy.yaml",
            "healthy",
            (),
            "Healthy",
            None,
        ),
        (
            "argo-cd__gitops-engine__health__application-degraded.yaml",
            "degraded",
            (),
            "Unhealthy",
            'has health state "Degraded"',
        ),
        ("roadie__e2e__applications-test-app.json", "test-app", (), "Healthy", None),
        (
            "roadie__e2e__applications-test-app.json",
            "test-app",
            ("53e28ff20cc530b9ada2173fbbd64d48338583ba",),
            "Healthy",
            None,
        ),
        (
            "roadie__e2e__applications-test-app.json",
            "test-app",
            (SHA_A,),
            "Unhealthy",
            "Source 0 with RepoURL https://github.com/argoproj/argocd-example-apps.git",
        ),
        # A sync just requested: .operation set, no operationState yet.
        ("roadie__argocd-node__syncResp.json", "backstage20220408139-nonprod", (), "Healthy", None),
        (
            "roadie__argocd-node__syncResp.json",
            "backstage20220408139-nonprod",
            ("38554e11dbe1d68790c9f0567eaf31dedd4c3638",),
            "Unknown",
            "is being synced",
        ),
    ],
)
def test_recorded_applications(fixture, app, revisions, state, issue):
    argocd = Applications()
    namespace = "argocd"
    argocd.apps[(namespace, app)] = recorded(fixture)
    if fixture.startswith("argo-cd__controller__testdata__diff-cache"):
        namespace = "argo-cd"
        argocd.apps[(namespace, app)] = argocd.apps.pop(("argocd", app))
    result = check_stage(argocd, criterion(want(app, *revisions, namespace=namespace)))
    assert result.status == state, result.issues
    if issue is None:
        assert result.issues == ()
    else:
        assert len(result.issues) == 1
        assert issue in result.issues[0]
        assert f'"{app}" in namespace "{namespace}"' in result.issues[0]
    json.dumps(result.to_json())
