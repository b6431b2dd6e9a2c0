"""Discovery cost against a local registry holding one repository with 2,000 tags.

Measures, with nothing changed since the previous tick:
- tick_over_raw: a Warehouse sensor tick (on a real SQLite Dagster instance) divided by one
  raw ``GET /v2/<name>/tags/list`` of the same repository;
- requests_per_tick_semver / requests_per_tick_newestbuild: HTTP requests one tick makes for
  a SemVer and a NewestBuild subscription (both with ``cacheByTag: true``).

And the cold start, as when the code server's pod starts with an empty cache directory:
cold_tick_seconds and cold_requests, the first tick of the SemVer subscription, and
cold_tick_over_raw, that tick divided by the raw tag list (SemVer resolves only the top 20
of the 2,000 tags, so the tick's cost follows the 20, not the 2,000).

And filling the repository as the tests do: push_tags_over_push_image, pushing the 2,000
tags (one config and layer, a manifest per tag) divided by pushing one whole image.

And reading a Helm repository's index.yaml of 8,000 chart versions (about 2.3 MB):
helm_index_over_events, the parse into chart versions divided by draining libyaml's events
of the same bytes, the least any YAML reading can do.

Run with the project's virtual environment: ``.venv/bin/python bench/discovery.py``. The last
line printed is one JSON object.
"""

import json
import statistics
import tempfile
import time
from collections import deque
from pathlib import Path

import dagster as dg
import httpx
import yaml

from kargo_dagster import load_definitions
from kargo_dagster.clients.helm_index import parse_index
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.warehouse_sensors import sensor_name, subscribers_for
from kargo_dagster.testing.helm_repo import large_index
from kargo_dagster.testing.oci_push import push_image, push_tags
from kargo_dagster.testing.registry import LocalRegistry

TAGS = 2000
ROUNDS = 30

MANIFESTS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: bench
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: {name}
  namespace: bench
spec:
  subscriptions:
  - image:
      repoURL: {repo}
      imageSelectionStrategy: {strategy}
      cacheByTag: true
"""


def median_seconds(action, rounds: int = ROUNDS) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure_ticks(
    instance: dg.DagsterInstance, registry: LocalRegistry, scratch: Path, strategy: str
) -> tuple[int, float, int, float]:
    """Requests one steady-state tick makes and its median duration, then the same for the
    first tick on an empty work directory."""
    name = strategy.lower()
    folder = scratch / name
    folder.mkdir()
    (folder / "w.yaml").write_text(
        MANIFESTS.format(name=name, repo=registry.repo_url("bench/app"), strategy=strategy)
    )
    kargo = KargoResource(work_dir=str(scratch / "work"))
    defs = load_definitions(folder, resources={"kargo": kargo})
    sensor = defs.resolve_sensor_def(sensor_name("bench", name))
    cursor: list[str | None] = [None]

    def tick() -> None:
        context = dg.build_sensor_context(instance=instance, cursor=cursor[0])
        result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        cursor[0] = result.cursor

    subscribers = subscribers_for(kargo, "bench", name)
    started = time.perf_counter()
    tick()  # the first tick reads the token, the tag list, digests and configs
    cold_seconds = time.perf_counter() - started
    cold_requests = subscribers.requests_made()
    tick()  # steady state from here on
    before = subscribers.requests_made()
    tick()
    return subscribers.requests_made() - before, median_seconds(tick), cold_requests, cold_seconds


def helm_index_over_events() -> float:
    """Our Helm index parse against draining libyaml's events of the same document."""
    content = large_index()
    ours = median_seconds(lambda: parse_index(content, "bench"), rounds=5)
    events = lambda: deque(yaml.parse(content, Loader=yaml.CSafeLoader), maxlen=0)  # noqa: E731
    raw = median_seconds(events, rounds=5)
    return ours / raw


def main() -> None:
    with LocalRegistry() as registry, tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        push_image(registry, "bench/app", "v0.0.0")
        push_image_seconds = time.perf_counter() - started
        started = time.perf_counter()
        push_tags(registry, "bench/app", [f"v1.{i // 100}.{i % 100}" for i in range(TAGS)])
        push_tags_seconds = time.perf_counter() - started
        raw = httpx.Client()
        tags_url = f"{registry.url}/v2/bench/app/tags/list"
        raw.get(tags_url).raise_for_status()
        raw_seconds = median_seconds(lambda: raw.get(tags_url).raise_for_status())

        results: dict[str, float] = {}
        with dg.instance_for_test() as instance:
            for strategy in ("SemVer", "NewestBuild"):
                requests, seconds, cold_requests, cold_seconds = measure_ticks(
                    instance, registry, Path(scratch), strategy
                )
                results[f"requests_per_tick_{strategy.lower()}"] = requests
                results.setdefault("tick_seconds", seconds)
                results.setdefault("cold_requests", cold_requests)
                results.setdefault("cold_tick_seconds", cold_seconds)
        report = {
            "tags": TAGS,
            "raw_tag_list_seconds": round(raw_seconds, 5),
            "tick_seconds": round(results["tick_seconds"], 5),
            "tick_over_raw": round(results["tick_seconds"] / raw_seconds, 2),
            "requests_per_tick_semver": results["requests_per_tick_semver"],
            "requests_per_tick_newestbuild": results["requests_per_tick_newestbuild"],
            "cold_tick_seconds": round(results["cold_tick_seconds"], 3),
            "cold_tick_over_raw": round(results["cold_tick_seconds"] / raw_seconds, 2),
            "cold_requests": results["cold_requests"],
            "push_tags_seconds": round(push_tags_seconds, 3),
            "push_tags_over_push_image": round(push_tags_seconds / push_image_seconds, 2),
            "helm_index_over_events": round(helm_index_over_events(), 2),
        }
        print(json.dumps(report))


if __name__ == "__main__":
    main()
