"""Launching promotion runs through a running Dagster webserver's GraphQL API.

``kargo-dagster promote`` and ``rollback`` ask the webserver, as the UI's "Materialize" button
does, so the run goes through the instance's run queue, its pools and its daemon like any
other, and appears in the UI at once. One promotion is one run of the implicit asset job
selecting the Stage asset and its two checks for one partition, tagged with the Kargo tags.

The webserver is found by URL (``http://127.0.0.1:3000`` by default); the code location is
the one that defines the Stage asset, looked up by its key.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from kargo_dagster.clients.deadlines import DeadlineClient
from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.redaction import redact_text

__all__ = ["DagsterWebserver", "LaunchedRun", "WebserverError"]

_ASSET_QUERY = """
query StageAsset($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    __typename
    ... on AssetNode {
      jobNames
      repository { name location { name } }
    }
  }
}
"""

_LAUNCH = """
mutation LaunchPromotion($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

# The implicit job every asset belongs to; preferred when the asset is in several jobs.
_ASSET_JOB = "__ASSET_JOB"


class WebserverError(KargoDagsterError):
    """The webserver could not be reached, or refused to launch the run."""


@dataclass(frozen=True)
class LaunchedRun:
    """A run the webserver accepted: its ID and where to watch it."""

    run_id: str
    url: str


class DagsterWebserver:
    """A Dagster webserver's GraphQL API.

    Args:
        url: The webserver, e.g. ``http://127.0.0.1:3000``.
        timeout: Seconds to wait for each request.
        transport: An httpx transport, for tests that serve the API in-process.
    """

    def __init__(
        self, url: str, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._client = DeadlineClient(timeout=timeout, transport=transport)

    def __enter__(self) -> "DagsterWebserver":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def launch_partition(
        self,
        asset_key: Sequence[str],
        partition_key: str,
        *,
        checks: Sequence[str] = (),
        tags: Mapping[str, str] | None = None,
        job: str | None = None,
    ) -> LaunchedRun:
        """Materialize one partition of ``asset_key`` (with its ``checks``) as a queued run,
        in ``job`` when the asset belongs to it (else Dagster's asset job).

        Raises:
            WebserverError: The webserver is unreachable, knows no such asset, or refused.
        """
        path = list(asset_key)
        found = self._query(_ASSET_QUERY, {"key": {"path": path}})["assetNodeOrError"]
        if found.get("__typename") != "AssetNode":
            raise WebserverError(
                f"the Dagster webserver at {self.url} has no asset {'/'.join(path)}; is the "
                "code location with these manifests loaded?"
            )
        jobs = found.get("jobNames") or []
        if job is None or job not in jobs:
            job = _ASSET_JOB if _ASSET_JOB in jobs or not jobs else jobs[0]
        repository = found["repository"]
        run_tags = {"dagster/partition": partition_key, **(tags or {})}
        params: dict[str, Any] = {
            "selector": {
                "repositoryLocationName": repository["location"]["name"],
                "repositoryName": repository["name"],
                "jobName": job,
                "assetSelection": [{"path": path}],
                "assetCheckSelection": [
                    {"assetKey": {"path": path}, "name": check} for check in checks
                ],
            },
            "executionMetadata": {
                "tags": [{"key": key, "value": value} for key, value in run_tags.items()]
            },
        }
        answer = self._query(_LAUNCH, {"params": params})["launchRun"]
        if answer.get("__typename") == "LaunchRunSuccess":
            run_id = answer["run"]["runId"]
            return LaunchedRun(run_id, f"{self.url}/runs/{run_id}")
        detail = answer.get("message") or "; ".join(
            str(e.get("message")) for e in answer.get("errors") or []
        )
        raise WebserverError(
            f"the Dagster webserver refused the run ({answer.get('__typename')}): "
            f"{redact_text(detail or 'no reason given')}"
        )

    def _query(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.post(
                f"{self.url}/graphql", json={"query": query, "variables": dict(variables)}
            )
        except httpx.HTTPError as error:
            raise WebserverError(
                f"cannot reach the Dagster webserver at {self.url}: {redact_text(str(error))}; "
                "start it (dagster dev, or kargo-dagster demo) or give --url"
            ) from None
        if response.status_code != 200:
            raise WebserverError(
                f"the Dagster webserver at {self.url} answered {response.status_code}"
            )
        body = response.json()
        if body.get("errors"):
            messages = "; ".join(str(e.get("message")) for e in body["errors"])
            raise WebserverError(f"the Dagster webserver rejected the request: {messages}")
        return body["data"]
