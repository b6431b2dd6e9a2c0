"""The synthetic Kargo Project of ``bench/scale.py`` and the history it is given.

One Warehouse (an image, SemVer) feeds ``dev`` directly; ``staging`` takes Freight from
``dev``; every other Stage (``region-001``...) takes it from ``staging`` after a soak of an
hour. Every Stage promotes with git-clone, yaml-update, git-commit and git-push into one GitOps
repository, is verified by one AnalysisTemplate (a web probe of the Freight's version), and is
auto-promoted by the ProjectConfig's single ``glob:*`` policy.

The history (:func:`plan_history`) is a Freight every ten minutes ending now, each promoted into
``dev``; every third (and every hundredth) into ``staging``; every hundredth into all the fan-out
Stages, an hour and more after it was verified in ``staging`` so the soak holds. A few percent
of the promotions fail (a step error, or ``staging`` refusing Freight that failed its
verification in ``dev``) and a few fail their verification. The plan is deterministic for a
given size and clock, so reruns and templates describe the same history.
"""

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from kargo_dagster.freight import Freight, FreightOrigin, Image

PROJECT = "acme-fleet"
WAREHOUSE = "app"
IMAGE = "registry.example.com/app"
GIT_URL = "https://git.example.com/acme/gitops.git"
SMOKE_URL = "https://smoke.example.com"
SOAK = "1h"
FAN_OUT_PREFIX = "region-"
ACTOR = "kargo-dagster auto-promotion"

KARGO = "kargo.akuity.io/v1alpha1"
ROLLOUTS = "argoproj.io/v1alpha1"
TAG_EXPRESSION = '${{ imageFrom("' + IMAGE + '").Tag }}'

FREIGHT_EVERY_S = 600
DEV_AFTER_S = 30
STAGING_AFTER_S = 300
FAN_OUT_AFTER_S = 70 * 60
FAN_OUT_SPREAD_S = 45 * 60

StageClass = Literal["dev", "staging", "fan-out"]
Outcome = Literal["success", "verify_failed", "step_failed", "refused"]


def stage_names(stages: int) -> list[str]:
    """``dev``, ``staging`` and ``stages - 2`` fan-out Stages, in pipeline order."""
    width = max(3, len(str(stages - 2)))
    return ["dev", "staging", *(f"{FAN_OUT_PREFIX}{i:0{width}d}" for i in range(1, stages - 1))]


def stage_class(name: str) -> StageClass:
    """Which of the three kinds of Stage ``name`` is."""
    if name in ("dev", "staging"):
        return name  # type: ignore[return-value]
    return "fan-out"


def upstream_of(name: str) -> str | None:
    """The Stage ``name`` takes Freight from; None for ``dev`` (straight from the Warehouse)."""
    return {"dev": None, "staging": "dev"}.get(name, "staging")


def manifests(
    stages: Sequence[str], *, git_url: str = GIT_URL, smoke_url: str = SMOKE_URL, soak: str = SOAK
) -> list[dict[str, Any]]:
    """The Project's documents: Project, ProjectConfig, Warehouse, AnalysisTemplate, Stages."""
    namespace = {"name": WAREHOUSE, "namespace": PROJECT}
    documents: list[dict[str, Any]] = [
        {"apiVersion": KARGO, "kind": "Project", "metadata": {"name": PROJECT}},
        {
            "apiVersion": KARGO,
            "kind": "ProjectConfig",
            "metadata": {"name": PROJECT, "namespace": PROJECT},
            "spec": {
                "promotionPolicies": [
                    {"stageSelector": {"name": "glob:*"}, "autoPromotionEnabled": True}
                ]
            },
        },
        {
            "apiVersion": KARGO,
            "kind": "Warehouse",
            "metadata": namespace,
            "spec": {
                "interval": "5m",
                "subscriptions": [
                    {
                        "image": {
                            "repoURL": IMAGE,
                            "imageSelectionStrategy": "SemVer",
                            "constraint": ">=0.1.0",
                            "discoveryLimit": 20,
                        }
                    }
                ],
            },
        },
        {
            "apiVersion": ROLLOUTS,
            "kind": "AnalysisTemplate",
            "metadata": {"name": "smoke", "namespace": PROJECT},
            "spec": {
                "args": [{"name": "version"}],
                "metrics": [
                    {
                        "name": "up",
                        "successCondition": 'result == "ok"',
                        "provider": {
                            "web": {
                                "url": smoke_url + "/healthz?v={{args.version}}",
                                "jsonPath": "{$.status}",
                            }
                        },
                    }
                ],
            },
        },
    ]
    documents.extend(_stage(name, git_url=git_url, soak=soak) for name in stages)
    return documents


def _stage(name: str, *, git_url: str, soak: str) -> dict[str, Any]:
    upstream = upstream_of(name)
    sources: dict[str, Any] = {"stages": [upstream]} if upstream else {"direct": True}
    if stage_class(name) == "fan-out":
        sources["requiredSoakTime"] = soak
    steps = [
        {
            "uses": "git-clone",
            "config": {"repoURL": git_url, "checkout": [{"branch": "main", "path": "./src"}]},
        },
        {
            "uses": "yaml-update",
            "as": "update",
            "config": {
                "path": f"./src/stages/{name}/values.yaml",
                "updates": [{"key": "image.tag", "value": TAG_EXPRESSION}],
            },
        },
        {
            "uses": "git-commit",
            "as": "commit",
            "config": {"path": "./src", "message": "${{ outputs.update.commitMessage }}"},
        },
        {"uses": "git-push", "config": {"path": "./src"}},
    ]
    return {
        "apiVersion": KARGO,
        "kind": "Stage",
        "metadata": {"name": name, "namespace": PROJECT},
        "spec": {
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": WAREHOUSE}, "sources": sources}
            ],
            "promotionTemplate": {"spec": {"steps": steps}},
            "verification": {
                "analysisTemplates": [{"name": "smoke"}],
                "args": [{"name": "version", "value": TAG_EXPRESSION}],
            },
        },
    }


def write_manifests(directory: Path, documents: Sequence[dict[str, Any]]) -> Path:
    """Write ``documents`` as ``<directory>/project.yaml``; return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump_all(list(documents), sort_keys=False)
    (directory / "project.yaml").write_text(text)
    return directory


def values_file(tag: str) -> str:
    """What ``stages/<stage>/values.yaml`` holds in the GitOps repository after ``tag``."""
    return f"image:\n  tag: {tag}\n"


INITIAL_TAG = "v0.0.0"


def freight(index: int) -> Freight:
    """The ``index``-th Freight the Warehouse discovered (``v0.<index + 1>.0``)."""
    return freight_for_tag(f"v0.{index + 1}.0")


def freight_for_tag(tag: str) -> Freight:
    """Freight of one image at ``tag``, with a digest derived from the tag."""
    digest = "sha256:" + hashlib.sha256(tag.encode()).hexdigest()
    image = Image(repo_url=IMAGE, tag=tag, digest=digest)
    return Freight(origin=FreightOrigin(name=WAREHOUSE), images=(image,))


@dataclass(frozen=True)
class PlannedRun:
    """One promotion run of the history: into ``stage``, of Freight ``freight``, at ``at``."""

    at: float
    stage: str
    freight: int
    outcome: Outcome


@dataclass(frozen=True)
class History:
    """When each Freight was discovered, and every promotion run in creation order."""

    freight_times: list[float]
    runs: list[PlannedRun]


def in_staging(index: int) -> bool:
    """Whether Freight ``index`` goes to ``staging``: every third, and every hundredth, but
    none of the nine after a hundredth, which must soak an hour in ``staging`` undisturbed."""
    if index % 100 == 0:
        return True
    return index % 3 == 0 and not 0 < index % 100 <= 9


def plan_history(stages: int, freight_count: int, now: float) -> History:
    """The promotions of ``freight_count`` Freight through ``stages`` Stages, ending at ``now``.

    Runs that would not have ended by ``now`` are left out (they are queued instead, see
    ``scale_history``).
    """
    rng = random.Random(f"{stages}/{freight_count}")
    names = stage_names(stages)
    fan_out = names[2:]
    newest = now - 120
    times = [newest - (freight_count - 1 - i) * FREIGHT_EVERY_S for i in range(freight_count)]
    runs: list[PlannedRun] = []
    for index, created in enumerate(times):
        forced = index % 100 == 0
        dev = "success" if forced else _outcome(rng)
        runs.append(PlannedRun(created + DEV_AFTER_S, "dev", index, dev))
        if not in_staging(index) or dev == "step_failed":
            continue
        staging = "refused" if dev != "success" else "success" if forced else _outcome(rng)
        runs.append(PlannedRun(created + STAGING_AFTER_S, "staging", index, staging))
        if not forced:
            continue
        spacing = FAN_OUT_SPREAD_S / max(1, len(fan_out))
        runs.extend(
            PlannedRun(created + FAN_OUT_AFTER_S + k * spacing, name, index, _outcome(rng))
            for k, name in enumerate(fan_out)
        )
    runs.sort(key=lambda run: run.at)
    return History(freight_times=times, runs=[r for r in runs if r.at < now - 60])


def _outcome(rng: random.Random) -> Outcome:
    draw = rng.random()
    if draw < 0.02:
        return "step_failed"
    if draw < 0.05:
        return "verify_failed"
    return "success"
