"""``job`` metrics run as pods through dagster-k8s Pipes, when kargo-dagster runs the analysis.

Argo Rollouts measures a ``job`` metric by running its Job template and reading whether the
Job succeeded. Without Argo Rollouts, each measurement here runs the template's pod with
dagster-k8s's ``PipesK8sClient``, from inside the ``verified`` check:

* the pod is the Job template's pod (``spec.template``) with its labels and annotations, plus
  ``kargo.akuity.io/stage`` and ``kargo-dagster.io/metric``; ``restartPolicy`` is ``Never``
  unless the template says ``OnFailure`` (``Always`` is refused, as by Kubernetes for Jobs);
* the pod's output streams into the check's run log, so the UI shows what the check saw;
* a container exiting non-zero makes the measurement ``Failed``, as a failed Job does; a pod
  that cannot run (image pull errors, a bad spec, an unreachable cluster) is an ``Error``;
* a container that uses ``dagster-pipes`` can say more: an asset check result it reports
  decides the measurement (``passed``) and its metadata is kept with the measurement, and a
  custom message ``{"value": ...}`` becomes the measured value. The check op targets no
  asset, so the pod names it from the extras it is given (``asset_key``, ``check_name``,
  ``metric``, ``stage``)::

      with open_dagster_pipes() as pipes:
          pipes.report_asset_check(
              asset_key=pipes.get_extra("asset_key"),
              check_name=pipes.get_extra("check_name"),
              passed=ok,
              metadata={"latency_ms": 42},
          )

Job-level settings a pod cannot express (``backoffLimit``, ``activeDeadlineSeconds``,
``ttlSecondsAfterFinished``) are not applied: each measurement is one attempt.
"""

import json
import re
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_k8s import PipesK8sClient
from dagster_k8s.client import DagsterK8sError

from kargo_dagster.defs.resources import AnalysisPods
from kargo_dagster.redaction import redact_text
from kargo_dagster.verification.analysis_executor import Measurement

__all__ = ["PipesJobMetrics"]

METRIC_LABEL = "kargo-dagster.io/metric"
_STAGE_LABEL = "kargo.akuity.io/stage"
# What dagster-k8s says when the pod ran and a container exited non-zero.
_CONTAINER_FAILED = "terminated but some containers exited with errors"
# How much of a failed container's output the measurement message keeps.
_OUTPUT_LINES = 3


class PipesJobMetrics:
    """Measures ``job`` metrics by running their pod through ``PipesK8sClient``.

    Args:
        context: The ``verified`` check's context; the pod's logs and Pipes messages go
            to its run.
        settings: The Kubernetes connection and namespace for the pods.
        namespace: The namespace used when ``settings`` names none (the Project's).
        stage: The Stage being verified, for the pods' labels.
        timeout_seconds: How long one pod may take to finish.
    """

    def __init__(
        self,
        context: dg.AssetCheckExecutionContext,
        settings: AnalysisPods,
        *,
        namespace: str,
        stage: str,
        timeout_seconds: float,
    ) -> None:
        self._context = context
        self._settings = settings
        self._namespace = settings.namespace or namespace
        self._stage = stage
        self._timeout = timeout_seconds
        self._client = PipesK8sClient(
            load_incluster_config=settings.in_cluster or None,
            kubeconfig_file=None if settings.in_cluster else settings.kubeconfig,
            kube_context=None if settings.in_cluster else settings.context,
            poll_interval=settings.poll_interval_seconds,
        )

    def measure(self, metric: Mapping[str, Any]) -> Measurement:
        """Run the metric's pod once and judge it (see the module docstring)."""
        name = str(metric.get("name", ""))
        try:
            pod_meta, pod_spec = _pod_from_job(name, metric, self._stage)
        except ValueError as error:
            return Measurement(phase="Error", message=str(error))
        self._context.log.info(
            f"verification metric {name!r}: running a pod in namespace {self._namespace!r}"
        )
        [check] = self._context.check_specs
        try:
            invocation = self._client.run(
                context=self._context.op_execution_context,
                namespace=self._namespace,
                base_pod_meta=pod_meta,
                base_pod_spec=pod_spec,
                extras={
                    "metric": name,
                    "stage": self._stage,
                    "asset_key": check.asset_key.to_user_string(),
                    "check_name": check.name,
                },
                pod_wait_timeout=self._timeout,
            )
        except DagsterK8sError as error:
            text = redact_text(str(error))
            if _CONTAINER_FAILED in text:
                return Measurement(phase="Failed", message=_container_failure(text))
            return Measurement(phase="Error", message=_first_line(text))
        except Exception as error:  # noqa: BLE001 - the cluster's failures are measurements
            return Measurement(
                phase="Error",
                message=f"cannot run the pod: {_first_line(redact_text(str(error)))}",
            )
        return _judged(invocation.get_results(), invocation.get_custom_messages())


def _pod_from_job(
    metric: str, spec: Mapping[str, Any], stage: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    job = (spec.get("provider") or {}).get("job")
    if not isinstance(job, Mapping):
        raise ValueError(f"metric {metric!r} has no provider.job")
    template = (job.get("spec") or {}).get("template")
    if not isinstance(template, Mapping) or not (template.get("spec") or {}).get("containers"):
        raise ValueError(
            f"metric {metric!r}: provider.job.spec.template.spec needs at least one container"
        )
    pod_spec = dict(template["spec"])
    restart = pod_spec.get("restartPolicy", "Never")
    if restart == "Always":
        raise ValueError(
            f"metric {metric!r}: a Job's pod cannot have restartPolicy Always; use Never"
        )
    pod_spec["restartPolicy"] = restart
    template_meta = template.get("metadata") or {}
    job_meta = job.get("metadata") or {}
    labels = {**job_meta.get("labels", {}), **template_meta.get("labels", {})}
    labels[_STAGE_LABEL] = stage[:63]
    labels[METRIC_LABEL] = metric[:63]
    annotations = {**job_meta.get("annotations", {}), **template_meta.get("annotations", {})}
    pod_meta: dict[str, Any] = {"labels": labels}
    if annotations:
        pod_meta["annotations"] = annotations
    return pod_meta, pod_spec


def _judged(results: Any, custom: Any) -> Measurement:
    value = ""
    for message in custom:
        if isinstance(message, Mapping) and "value" in message:
            found = message["value"]
            value = found if isinstance(found, str) else json.dumps(found)
    checks = [r for r in results if isinstance(r, dg.AssetCheckResult)]
    if not checks:
        return Measurement(phase="Successful", value=value)
    # The pod's own verdict: the last check result it reported.
    reported = checks[-1]
    metadata = {key: _plain(entry) for key, entry in (reported.metadata or {}).items()}
    return Measurement(
        phase="Successful" if reported.passed else "Failed",
        value=value or json.dumps(metadata, sort_keys=True) if metadata else value,
        message=reported.description or "",
        metadata=metadata,
    )


def _plain(entry: Any) -> Any:
    # Metadata values come back as Dagster MetadataValue objects; measurements keep JSON.
    value = getattr(entry, "value", entry)
    try:
        json.dumps(value)
    except TypeError:
        return str(value)
    return value


def _container_failure(text: str) -> str:
    # dagster-k8s writes: Container "c" failed with message: "...". Last N log lines: "...".
    containers = re.findall(r'Container "([^"]+)" failed', text)
    logs = re.search(r'Last \d+ log lines: "(.*)"', text, re.DOTALL)
    lines = [line for line in (logs.group(1) if logs else "").splitlines() if line.strip()]
    who = ", ".join(f"container {c!r}" for c in containers) or "a container"
    tail = "; ".join(lines[-_OUTPUT_LINES:])
    return f"{who} exited non-zero" + (f"; its last output: {tail}" if tail else "")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
