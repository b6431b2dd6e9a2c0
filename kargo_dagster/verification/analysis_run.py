"""The AnalysisRun that verifies a Stage's Freight, built as Kargo builds it.

After a successful promotion Kargo verifies the Stage's current Freight collection by creating
one Argo Rollouts AnalysisRun (``pkg/rollouts/analysis_run_builder.go`` and the Stage
reconciler, v1.11). :func:`build_analysis_run` returns the same object as a JSON-compatible
manifest; creating it, finding an earlier run and reading its result are the caller's.

How the run is assembled:

* **Templates.** Every reference in ``spec.verification.analysisTemplates`` is looked up
  through a :class:`TemplateSource`: ``AnalysisTemplate`` in the Project's namespace,
  ``ClusterAnalysisTemplate`` by name. As in Kargo, the namespaced templates come first and
  the cluster-scoped ones after them, each group in reference order.
* **Merge** (Argo Rollouts' rules): ``metrics``, ``dryRun`` and ``measurementRetention`` are
  concatenated, and a metric name appearing twice in any of them is an error. Template
  ``args`` are combined by name: a later template fills a value an earlier one left unset;
  two different values are an error.
* **Stage args.** Each ``verification.args`` value is a template evaluated with ``ctx``
  (``project``, ``stage``), the Stage's ``vars`` (evaluated first, in order, each seeing the
  ones before it) and the Freight functions (``warehouse``, ``imageFrom``, ``commitFrom``,
  ``chartFrom``, ``freightMetadata``, ``stageMetadata``, ``semverParse``, ``semverDiff``,
  ``quote``...). The result must be a string: use ``quote()`` around a value that would
  otherwise read as a number or boolean. A Stage arg replaces the template arg of the same
  name (its ``valueFrom`` is kept alongside, as Argo Rollouts does); a Stage arg no template
  declares is dropped. Every resulting arg must have a ``value`` or a ``valueFrom``;
  ``valueFrom`` (Secret keys, field references) is left for the Rollouts controller to
  resolve.
* **Metadata.** The namespace is the Project. Labels are ``analysisRunMetadata.labels`` plus
  ``kargo.akuity.io/stage`` (the Stage name, shortened with a hash to the 63 characters a
  label value may have) and ``kargo.akuity.io/freight-collection`` (the collection ID);
  annotations are ``analysisRunMetadata.annotations`` plus ``kargo.akuity.io/stage`` with the
  full name when the label had to be shortened, and ``kargo.akuity.io/promotion`` when the
  run follows a promotion.
* **Name.** ``<stage>.<ulid>.<first 7 of the collection ID>``, lower-cased, the Stage part
  cut so the whole fits in 253 characters. The ULID comes from a factory argument, so tests
  can make names deterministic.

Not carried over: owner references to the Freight objects (Freight lives in Dagster here, not
in the cluster), so deleting Freight does not garbage-collect its AnalysisRuns.
"""

import copy
import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kargo_dagster.errors import ExpressionError, KargoDagsterError, VerificationError
from kargo_dagster.expressions import evaluate_template, kargo_functions
from kargo_dagster.expressions.functions import MetadataSource
from kargo_dagster.expressions.gotype import go_type
from kargo_dagster.freight import Freight
from kargo_dagster.spec.stage import AnalysisTemplateReference, Stage
from kargo_dagster.verification.template_sources import CatalogTemplates, TemplateSource

__all__ = [
    "ANALYSIS_RUN_API_VERSION",
    "CONTROLLER_INSTANCE_LABEL",
    "FREIGHT_COLLECTION_LABEL",
    "PROMOTION_ANNOTATION",
    "STAGE_LABEL",
    "CatalogTemplates",
    "TemplateSource",
    "VerificationError",
    "analysis_run_name",
    "analysis_run_selector",
    "build_analysis_run",
    "freight_collection_id",
    "new_ulid",
    "shorten_label_value",
    "verification_functions",
]

ANALYSIS_RUN_API_VERSION = "argoproj.io/v1alpha1"
STAGE_LABEL = "kargo.akuity.io/stage"
FREIGHT_COLLECTION_LABEL = "kargo.akuity.io/freight-collection"
PROMOTION_ANNOTATION = "kargo.akuity.io/promotion"
CONTROLLER_INSTANCE_LABEL = "argo-rollouts.argoproj.io/controller-instance-id"

_MAX_NAME = 253
_MAX_LABEL_VALUE = 63
_ULID_LENGTH = 26
_SUFFIX_LENGTH = 7
_MAX_PREFIX = _MAX_NAME - (1 + _ULID_LENGTH) - (1 + _SUFFIX_LENGTH)
# Kargo's short hash length for shortened names; changing it would stop old labels matching.
_SHORT_HASH_LENGTH = 8
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# Kargo exposes these only to promotion steps, not to verification args.
_STEP_ONLY_FUNCTIONS = ("success", "failure", "always", "status")


# --- Names and labels ---------------------------------------------------------------------


def new_ulid(
    *,
    clock: Callable[[], float] = time.time,
    randomness: Callable[[int], bytes] = os.urandom,
) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, in Crockford base32 (26 chars).

    Args:
        clock: Seconds since the epoch.
        randomness: Returns that many random bytes.
    """
    milliseconds = int(clock() * 1000) & ((1 << 48) - 1)
    value = (milliseconds << 80) | int.from_bytes(randomness(10), "big")
    chars = []
    for _ in range(_ULID_LENGTH):
        chars.append(_CROCKFORD[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


def freight_collection_id(collection: Mapping[str, Freight] | Sequence[Freight]) -> str:
    """Kargo's FreightCollection ID: the hex SHA-1 of the sorted Freight names, comma-joined.

    Args:
        collection: The Freight in the Stage, by origin (or as a sequence).
    """
    freight = collection.values() if isinstance(collection, Mapping) else collection
    names = sorted(f.id for f in freight)
    return hashlib.sha1(",".join(names).encode("utf-8")).hexdigest()


def shorten_label_value(value: str) -> str:
    """``value`` cut to fit a label (63 characters), as Kargo's ``ShortenLabelValue`` does.

    Longer values keep their start and end in ``-<first 8 hex of the SHA-256 of value>``,
    so distinct long names stay distinct.
    """
    if len(value) <= _MAX_LABEL_VALUE:
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:_SHORT_HASH_LENGTH]
    keep = value[: _MAX_LABEL_VALUE - (_SHORT_HASH_LENGTH + 1)].rstrip("-")
    return f"{keep}-{digest}"


def analysis_run_name(stage: str, collection_id: str, ulid: str) -> str:
    """``<stage>.<ulid>.<collection id[:7]>``, lower-cased, at most 253 characters."""
    return ".".join((stage[:_MAX_PREFIX], ulid, collection_id[:_SUFFIX_LENGTH])).lower()


def analysis_run_selector(stage: str, collection_id: str) -> str:
    """The label selector of the AnalysisRuns verifying ``collection_id`` in ``stage``.

    Kargo looks for such a run before creating one, and reuses the newest.
    """
    return f"{STAGE_LABEL}={shorten_label_value(stage)},{FREIGHT_COLLECTION_LABEL}={collection_id}"


# --- Expressions ---------------------------------------------------------------------------


def verification_functions(
    collection: Mapping[str, Freight],
    *,
    metadata: MetadataSource | None = None,
    extra: Mapping[str, Callable[..., Any]] | None = None,
) -> dict[str, Callable[..., Any]]:
    """The functions verification args may call, as in Kargo.

    Args:
        collection: The Freight being verified, by Warehouse name.
        metadata: Where ``stageMetadata()``/``freightMetadata()`` read; empty maps if None.
        extra: More functions, e.g. ``configMap``/``secret`` backed by the cluster; they
            replace built-in ones of the same name.

    Returns:
        Kargo's Freight, data and utility functions; the step-status functions
        (``success``, ``failure``, ``always``, ``status``) are not among them.
    """
    functions = kargo_functions(collection=collection, metadata=metadata)
    for name in _STEP_ONLY_FUNCTIONS:
        functions.pop(name, None)
    functions.update(extra or {})
    return functions


def _evaluate_args(
    stage: Stage, project: str, functions: Mapping[str, Callable[..., Any]]
) -> list[dict[str, Any]]:
    env: dict[str, Any] = {**functions, "ctx": {"project": project, "stage": stage.metadata.name}}
    if stage.spec.vars:
        values: dict[str, Any] = {}
        env["vars"] = values
        for var in stage.spec.vars:
            try:
                # Each var sees the ones before it: ``values`` is the same dict as env["vars"].
                values[var.name] = evaluate_template(var.value or "", env)
            except ExpressionError as error:
                raise error.located(f"{_subject(stage, project)} vars.{var.name}") from error
    verification = stage.spec.verification
    args: list[dict[str, Any]] = []
    for index, arg in enumerate(verification.args if verification is not None else ()):
        evaluated: dict[str, Any] = {"name": arg.name}
        if arg.value:
            where = f"{_subject(stage, project)} spec.verification.args[{index}] ({arg.name})"
            try:
                value = evaluate_template(arg.value, env)
            except ExpressionError as error:
                raise error.located(where) from error
            if not isinstance(value, str):
                raise VerificationError(
                    f"{where}: the value evaluates to {go_type(value)}, not a string; wrap "
                    "the expression in quote() to pass it as text"
                )
            evaluated["value"] = value
        args.append(evaluated)
    return args


# --- Templates -----------------------------------------------------------------------------


def _subject(stage: Stage, project: str) -> str:
    return f"Stage {project}/{stage.metadata.name}"


def _describe(ref: AnalysisTemplateReference, project: str) -> str:
    if ref.kind == "ClusterAnalysisTemplate":
        return f"ClusterAnalysisTemplate {ref.name!r}"
    return f"AnalysisTemplate {ref.name!r} in namespace {project!r}"


def _fetch_templates(
    stage: Stage,
    project: str,
    references: Sequence[AnalysisTemplateReference],
    source: TemplateSource,
) -> list[tuple[str, Mapping[str, Any]]]:
    namespaced: list[tuple[str, Mapping[str, Any]]] = []
    clustered: list[tuple[str, Mapping[str, Any]]] = []
    for ref in references:
        what = _describe(ref, project)
        try:
            if ref.kind == "ClusterAnalysisTemplate":
                spec = source.cluster_analysis_template(ref.name)
            else:
                spec = source.analysis_template(project, ref.name)
        except KargoDagsterError as error:
            raise VerificationError(
                f"{_subject(stage, project)}: cannot read {what}: {error}"
            ) from error
        if spec is None:
            raise VerificationError(
                f"{_subject(stage, project)}: spec.verification.analysisTemplates refers to "
                f"{what}, which does not exist; create it or remove the reference"
            )
        if not isinstance(spec, Mapping):
            raise VerificationError(f"{_subject(stage, project)}: {what} has no spec object")
        (clustered if ref.kind == "ClusterAnalysisTemplate" else namespaced).append((what, spec))
    # Kargo merges every namespaced template before any cluster-scoped one.
    return namespaced + clustered


def _entries(what: str, spec: Mapping[str, Any], field: str, key: str) -> list[dict[str, Any]]:
    raw = spec.get(field) or []
    if not isinstance(raw, list):
        raise VerificationError(f"{what}: spec.{field} must be a list")
    entries: list[dict[str, Any]] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get(key), str):
            raise VerificationError(f"{what}: spec.{field}[{index}] needs a {key}")
        entries.append(copy.deepcopy(dict(entry)))
    return entries


def _concatenate(
    templates: Sequence[tuple[str, Mapping[str, Any]]], field: str, key: str, label: str
) -> list[dict[str, Any]]:
    merged: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for what, spec in templates:
        for entry in _entries(what, spec, field, key):
            name = entry[key]
            if name in seen:
                where = "twice in it" if seen[name] == what else f"also in {seen[name]}"
                raise VerificationError(
                    f"{what}: {label} {name!r} is defined {where}; metric names must be "
                    "unique across the templates a Stage uses"
                )
            seen[name] = what
            merged.append(entry)
    return merged


def _template_args(templates: Sequence[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    combined: list[dict[str, Any]] = []
    declared_in: dict[str, str] = {}
    for what, spec in templates:
        for arg in _entries(what, spec, "args", "name"):
            existing = next((a for a in combined if a["name"] == arg["name"]), None)
            if existing is None:
                combined.append(arg)
                declared_in[arg["name"]] = what
                continue
            old, new = existing.get("value"), arg.get("value")
            if old is not None and new is not None and old != new:
                raise VerificationError(
                    f"{what}: argument {arg['name']!r} has a different value in "
                    f"{declared_in[arg['name']]}; give it the same value in both or none"
                )
            if old is None and new is not None:
                existing["value"] = new
    return combined


def _merge_args(
    stage_args: Sequence[Mapping[str, Any]],
    template_args: list[dict[str, Any]],
    subject: str,
) -> list[dict[str, Any]]:
    merged = template_args
    by_name = {arg["name"]: arg for arg in merged}
    for incoming in stage_args:
        target = by_name.get(incoming["name"])
        # As Argo Rollouts: an arg no template declares is ignored.
        if target is not None and "value" in incoming:
            target["value"] = incoming["value"]
    unresolved = [a["name"] for a in merged if a.get("value") is None and not a.get("valueFrom")]
    if unresolved:
        names = ", ".join(repr(n) for n in unresolved)
        raise VerificationError(
            f"{subject}: no value for the template argument{'s' if len(unresolved) > 1 else ''} "
            f"{names}; set it in spec.verification.args or give it a value or valueFrom in "
            "the template"
        )
    return merged


# --- The run -------------------------------------------------------------------------------


def build_analysis_run(
    stage: Stage,
    collection: Mapping[str, Freight],
    templates: TemplateSource,
    *,
    project: str | None = None,
    ulid: Callable[[], str] = new_ulid,
    promotion: str | None = None,
    metadata: MetadataSource | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    controller_instance_id: str | None = None,
) -> dict[str, Any]:
    """The AnalysisRun manifest Kargo would create to verify ``collection`` in ``stage``.

    Args:
        stage: The Stage; it must have ``spec.verification``.
        collection: The Freight currently in the Stage, by Warehouse name.
        templates: Where the referenced (Cluster)AnalysisTemplates are read.
        project: The Project (namespace); defaults to the Stage's ``metadata.namespace``.
        ulid: Makes the unique middle part of the name.
        promotion: The Promotion whose success started this verification, recorded in the
            ``kargo.akuity.io/promotion`` annotation; None for a re-verification.
        metadata: Where ``stageMetadata()``/``freightMetadata()`` read.
        functions: Extra expression functions (``configMap``, ``secret``...).
        controller_instance_id: The Argo Rollouts controller instance to assign the run to
            (its ``argo-rollouts.argoproj.io/controller-instance-id`` label).

    Returns:
        The ``argoproj.io/v1alpha1`` AnalysisRun as a JSON-compatible dict.

    Raises:
        VerificationError: The Stage has no verification or no Project, a template is
            missing, the templates conflict, or an argument is left without a value.
        ExpressionError: A Stage var or arg does not evaluate (``where`` names which).
    """
    stage_name = stage.metadata.name
    namespace = project or stage.metadata.namespace
    if not namespace:
        raise VerificationError(
            f"Stage {stage.metadata.name!r} has no namespace, so its Project is unknown; set "
            "metadata.namespace"
        )
    subject = _subject(stage, namespace)
    verification = stage.spec.verification
    if verification is None:
        raise VerificationError(f"{subject} has no spec.verification; there is nothing to run")

    # Kargo's order: read the templates, merge them, then evaluate the Stage's vars and args.
    specs = _fetch_templates(stage, namespace, verification.analysis_templates, templates)
    spec: dict[str, Any] = {
        "metrics": _concatenate(specs, "metrics", "name", "metric"),
    }
    dry_run = _concatenate(specs, "dryRun", "metricName", "dry-run metric")
    if dry_run:
        spec["dryRun"] = dry_run
    retention = _concatenate(
        specs, "measurementRetention", "metricName", "measurement retention metric"
    )
    if retention:
        spec["measurementRetention"] = retention
    template_args = _template_args(specs)
    env_functions = verification_functions(collection, metadata=metadata, extra=functions)
    stage_args = _evaluate_args(stage, namespace, env_functions)
    args = _merge_args(stage_args, template_args, subject)
    if args:
        spec["args"] = args

    collection_id = freight_collection_id(collection)
    run_metadata = verification.analysis_run_metadata
    labels = dict(run_metadata.labels) if run_metadata is not None else {}
    annotations = dict(run_metadata.annotations) if run_metadata is not None else {}
    short_stage = shorten_label_value(stage_name)
    labels[STAGE_LABEL] = short_stage
    labels[FREIGHT_COLLECTION_LABEL] = collection_id
    if short_stage != stage_name:
        annotations[STAGE_LABEL] = stage_name
    if promotion:
        annotations[PROMOTION_ANNOTATION] = promotion
    if controller_instance_id:
        labels[CONTROLLER_INSTANCE_LABEL] = controller_instance_id

    meta: dict[str, Any] = {
        "name": analysis_run_name(stage_name, collection_id, ulid()),
        "namespace": namespace,
        "labels": labels,
    }
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": ANALYSIS_RUN_API_VERSION,
        "kind": "AnalysisRun",
        "metadata": meta,
        "spec": spec,
    }
