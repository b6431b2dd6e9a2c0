"""The ``verified`` check's analysis: one AnalysisRun, as Kargo runs a Stage's verification.

Once the Stage is healthy, the Stage's ``verification`` becomes one AnalysisRun built from
its AnalysisTemplates and evaluated args (see :mod:`kargo_dagster.verification.analysis_run`)
for the Freight the Stage holds. Where it runs:

* with ``KargoResource.rollouts``, it is created in the Project's namespace of that Argo
  Rollouts cluster, as Kargo creates it, and followed until it ends or ``timeout_seconds``
  pass (the run is then terminated, as it is when the Dagster run is interrupted);
  templates missing from the manifests are read from the cluster (both through
  :mod:`kargo_dagster.clients.kube`);
* without, kargo-dagster executes it in the check
  (:mod:`kargo_dagster.verification.analysis_executor`): ``web`` metrics probe their URL
  from here (:mod:`kargo_dagster.verification.web_metric`) and ``job`` metrics run their
  pod through dagster-k8s Pipes (``KargoResource.analysis``); other providers need Argo
  Rollouts.

Its phase decides the check (see :mod:`kargo_dagster.verification.analysis_result`); the
metrics and latest measurements are the check's metadata. Each run of the check runs a new
analysis, as each Kargo verification (and re-verification) does.
"""

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import dagster as dg

from kargo_dagster.clients.argocd.applications import ArgoCDError
from kargo_dagster.defs.instance_queries import recorded_freight
from kargo_dagster.defs.job_metric import PipesJobMetrics
from kargo_dagster.defs.metadata_store import DagsterMetadataStore
from kargo_dagster.defs.names import warehouse_key
from kargo_dagster.defs.promotion_runner import freight_collection
from kargo_dagster.defs.resources import (
    AnalysisSettings,
    KargoResource,
    RolloutsSettings,
    rollouts_api_client,
)
from kargo_dagster.errors import ExpressionError, VerificationError
from kargo_dagster.expressions.resource_functions import ResourceLookups
from kargo_dagster.promotion.secret_masking import SecretMaskingFilter, masked_value
from kargo_dagster.redaction import redact_text
from kargo_dagster.spec import Catalog, ProjectManifests, Stage
from kargo_dagster.verification.analysis_executor import Provider, execute_analysis
from kargo_dagster.verification.analysis_result import (
    VerificationPhase,
    VerificationResult,
    terminate_patch,
    verification_result,
)
from kargo_dagster.verification.analysis_run import build_analysis_run
from kargo_dagster.verification.template_sources import (
    CatalogTemplates,
    LayeredTemplates,
    TemplateSource,
)
from kargo_dagster.verification.web_metric import WebMetricProvider

__all__ = ["analysis_verification"]


def analysis_verification(
    context: dg.AssetCheckExecutionContext,
    kargo: KargoResource,
    *,
    catalog: Catalog,
    project: ProjectManifests,
    stage: Stage,
) -> dg.AssetCheckResult:
    """Run the Stage's AnalysisRun for the Freight the run promotes (or re-verifies); judge it.

    With ``KargoResource.rollouts`` the run is created in that cluster for Argo Rollouts to
    execute; otherwise kargo-dagster executes it here (``KargoResource.analysis``).
    """
    instance, partition_key = context.instance, context.partition_key
    origin = stage.spec.requested_freight[0].origin.name
    freight = recorded_freight(instance, warehouse_key(project.name, origin), partition_key)
    if freight is None:
        return _failed("Error", f"Freight {partition_key} is not recorded for {origin}")
    collection = freight_collection(instance, project, stage, freight)
    rollouts = kargo.rollouts
    # Args may read secret(); what the check logs and shows has those values masked.
    lookups = ResourceLookups(kargo.resource_data(), project.name)
    masking = SecretMaskingFilter(lookups.secret_values)
    context.log.addFilter(masking)
    try:
        with _rollouts_client(rollouts) as api_client:
            run = build_analysis_run(
                stage,
                collection,
                _template_source(catalog, api_client, rollouts),
                project=project.name,
                metadata=DagsterMetadataStore(instance, project),
                functions=lookups.functions(),
            )
            if rollouts is None:
                result = _run_here(context, kargo, run, project, stage)
                executor = "kargo-dagster"
            else:
                result, _ = _run_to_the_end(run, api_client, rollouts, project.name)
                executor = "Argo Rollouts"
    except (VerificationError, ExpressionError) as error:
        return _failed("Error", masked_value(str(error), lookups.secret_values()))
    finally:
        context.log.removeFilter(masking)
    secrets = lookups.secret_values()
    metadata: dict[str, Any] = {
        "phase": dg.MetadataValue.text(result.phase.value),
        "analysisRun": dg.MetadataValue.text(f"{project.name}/{run['metadata']['name']}"),
        "executedBy": dg.MetadataValue.text(executor),
        "verification": dg.MetadataValue.json(masked_value(result.to_json(), secrets)),
    }
    return dg.AssetCheckResult(
        passed=result.passed,
        metadata=metadata,
        description=masked_value(result.description, secrets),
    )


@contextlib.contextmanager
def _rollouts_client(rollouts: RolloutsSettings | None) -> Iterator[Any]:
    """One Kubernetes client for the check's whole talk with the Argo Rollouts cluster (None
    without one): reading templates, creating the run and following it."""
    if rollouts is None:
        yield None
        return
    try:
        api_client = rollouts_api_client(rollouts)
    except ArgoCDError as error:
        raise VerificationError(f"cannot connect to the Argo Rollouts cluster: {error}") from None
    with api_client:
        yield api_client


def _template_source(
    catalog: Catalog, api_client: Any, rollouts: RolloutsSettings | None
) -> TemplateSource:
    manifests = CatalogTemplates(catalog)
    if rollouts is None:
        return manifests
    # With a cluster, templates not among the manifests are read from it, as Kargo reads them.
    from kargo_dagster.clients.kube.analysis_templates import ClusterTemplates

    cluster = ClusterTemplates(api_client, request_timeout=rollouts.request_timeout_seconds)
    return LayeredTemplates(manifests, cluster)


def _run_here(
    context: dg.AssetCheckExecutionContext,
    kargo: KargoResource,
    run: dict[str, Any],
    project: ProjectManifests,
    stage: Stage,
) -> VerificationResult:
    settings = kargo.analysis or AnalysisSettings()
    providers: dict[str, Provider] = {"web": WebMetricProvider()}
    if settings.pods is not None:
        providers["job"] = PipesJobMetrics(
            context,
            settings.pods,
            namespace=project.name,
            stage=stage.metadata.name,
            timeout_seconds=settings.timeout_seconds,
        )
    for metric in run["spec"]["metrics"]:
        if "job" in (metric.get("provider") or {}) and "job" not in providers:
            raise VerificationError(
                f"Stage {project.name}/{stage.metadata.name}: metric {metric['name']!r} runs a "
                "Job; give KargoResource `analysis=AnalysisSettings(pods=AnalysisPods(...))` "
                "to run its pod through dagster-k8s, or `rollouts=RolloutsSettings(...)` to "
                "have Argo Rollouts run it"
            )
    seen: dict[str, int] = {}

    def progress(current: dict[str, Any]) -> None:
        # One log line per new measurement, so the run's log shows the analysis advancing.
        for result in (current.get("status") or {}).get("metricResults") or []:
            taken = result.get("measurements") or []
            count = int(result.get("count", 0)) + int(result.get("error", 0))
            if taken and count > seen.get(result["name"], 0):
                seen[result["name"]] = count
                latest = taken[-1]
                context.log.info(
                    f"metric {result['name']!r}: {latest.get('phase')} "
                    f"{latest.get('value') or latest.get('message') or ''}".rstrip()
                )

    finished = execute_analysis(
        run,
        providers,
        deadline=time.time() + settings.timeout_seconds,
        on_update=progress,
    )
    return verification_result(finished)


def _run_to_the_end(
    run: dict[str, Any], api_client: Any, settings: RolloutsSettings, namespace: str
) -> tuple[VerificationResult, str]:
    # Imported here: the Kubernetes client is slow to import and often unused.
    from kargo_dagster.clients.kube.analysis_runs import AnalysisRuns

    runs = AnalysisRuns(api_client, request_timeout=settings.request_timeout_seconds)
    created = runs.create(namespace, run)
    # The run is created under the name it carries (build_analysis_run gives it one).
    name = str(run["metadata"]["name"])
    deadline = time.monotonic() + settings.timeout_seconds
    try:
        while True:
            result = verification_result(created)
            if result.terminal:
                return result, name
            if time.monotonic() >= deadline:
                # Nobody waits for the run any more, so it should not go on measuring.
                runs.terminate(namespace, name, terminate_patch())
                return _timed_out(result, settings.timeout_seconds), name
            time.sleep(settings.poll_interval_seconds)
            created = runs.get(namespace, name)
    except BaseException:
        # Terminating the Dagster run aborts the verification, as aborting it in Kargo
        # does: the AnalysisRun is told to stop rather than left measuring. Dagster
        # interrupts with an exception that is not an Exception, hence BaseException.
        runs.terminate(namespace, name, terminate_patch())
        raise


def _timed_out(result: VerificationResult, timeout: float) -> VerificationResult:
    return dataclasses.replace(
        result,
        phase=VerificationPhase.ERROR,
        message=(
            f"the AnalysisRun was still {result.analysis_phase or 'Pending'} after {timeout:g}s "
            "(RolloutsSettings.timeout_seconds), so it was terminated"
        ),
    )


def _failed(phase: str, description: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False,
        metadata={"phase": phase},
        description=redact_text(description),
    )
