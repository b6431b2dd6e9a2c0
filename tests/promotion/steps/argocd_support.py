"""Argo CD for the argocd-update and argocd-wait tests: the fake Kubernetes API server with
Applications, the Argo CD simulator driving them, and the real client the steps use."""

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kargo_dagster.clients.argocd.kubernetes_api import KubernetesArgoCDApplications
from kargo_dagster.errors import StepPendingError
from kargo_dagster.promotion.schema_validation import validate_step_config
from kargo_dagster.promotion.step import StepContext, StepKind, StepOutput
from kargo_dagster.testing.argocd_sim import ArgoCDSimulator, application
from kargo_dagster.testing.kube_api import FakeKubeAPI, KubeRequest
from tests.promotion.git_support import make_ctx

REPO = "https://github.com/acme/deploy.git"
CHARTS = "https://charts.example.com"
SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40
# make_ctx promotes into Stage dev of Project demo.
AUTHORIZED = "demo:dev"
APPLICATION = "argoproj.io/v1alpha1"


class Clock:
    """A clock that moves one second each time it is read, so every write has its time."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class ArgoCD:
    """A running fake API server, the simulator, and a client for the steps."""

    kube: FakeKubeAPI
    sim: ArgoCDSimulator
    client: KubernetesArgoCDApplications
    shared: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        name: str,
        target: str = "main",
        *,
        authorized: str | None = AUTHORIZED,
        settle: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        """Store an Application of ``REPO`` at ``target`` and let Argo CD reconcile it."""
        manifest = application(name, REPO, target, authorized_stage=authorized, **extra)
        stored = self.kube.add(manifest)
        if settle:
            self.sim.settle()
        return stored

    def app(self, name: str, namespace: str = "argocd") -> dict[str, Any]:
        """The Application as stored."""
        return self.kube.get(APPLICATION, "Application", namespace, name)

    def context(self, tmp_path: Path, **changes: Any) -> StepContext:
        """A step context with this Argo CD; ``promotion``, ``argocd`` etc. may be replaced."""
        fields: dict[str, Any] = {
            "argocd": self.client,
            "shared": self.shared,
            "report": self.details.__setitem__,
            **changes,
        }
        return replace(make_ctx(tmp_path), **fields)

    def writes(self, name: str) -> list[KubeRequest]:
        """The PATCH requests made to the Application ``name``."""
        return [
            r
            for r in self.kube.requests
            if r.method == "PATCH" and r.path.endswith(f"/applications/{name}")
        ]

    def events(self, reason: str = "OperationStarted") -> list[dict[str, Any]]:
        """The Events recorded with ``reason``."""
        return [e for e in self.kube.list_objects("v1", "Event") if e.get("reason") == reason]


@contextlib.contextmanager
def argocd_environment(*, poll_interval: float = 10.0) -> Iterator[ArgoCD]:
    """A fake API server with an Argo CD simulator resolving ``REPO``'s branches."""
    with FakeKubeAPI(clock=Clock()) as kube:
        sim = ArgoCDSimulator(kube)
        sim.set_revision(REPO, "main", SHA_A)
        sim.set_revision(REPO, "stage", SHA_B)
        with KubernetesArgoCDApplications(kube.api_client(), poll_interval=poll_interval) as c:
            yield ArgoCD(kube, sim, c)


def run_once(step: StepKind[Any], ctx: StepContext, config: Mapping[str, Any]) -> StepOutput:
    """Run the step once, its config checked against Kargo's schema first as the engine does."""
    validate_step_config(step.name, config)
    return step.run(ctx, step.config_model.model_validate(config))


def drive(
    step: StepKind[Any],
    ctx: StepContext,
    config: Mapping[str, Any],
    sim: ArgoCDSimulator,
    *,
    rounds: int = 20,
) -> StepOutput:
    """Run the step as the engine does, again after each wait, Argo CD settling in between."""
    for _ in range(rounds):
        try:
            return run_once(step, ctx, config)
        except StepPendingError:
            sim.settle()
    raise AssertionError(f"{step.name} still waiting after {rounds} rounds")
