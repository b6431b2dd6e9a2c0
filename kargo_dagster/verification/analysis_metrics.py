"""An AnalysisRun's metrics, checked and made ready to measure, as Argo Rollouts reads them.

:func:`prepare_metrics` refuses, with :class:`~kargo_dagster.errors.VerificationError`, what
cannot be run here (see :mod:`kargo_dagster.verification.analysis_executor`), substitutes
``{{args.NAME}}`` everywhere in each metric and reads its schedule and limits into a
:class:`MetricState`, which then keeps the metric's standing as measurements come in.
"""

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kargo_dagster.errors import ExpressionError, VerificationError
from kargo_dagster.expressions.goduration import SECOND, parse_duration
from kargo_dagster.verification.analysis_measurement import PHASES, Provider

__all__ = [
    "DEFAULT_CONSECUTIVE_ERROR_LIMIT",
    "DEFAULT_MEASUREMENT_LIMIT",
    "ROLLOUTS_HINT",
    "MetricState",
    "prepare_metrics",
    "run_subject",
]

# Argo Rollouts' defaults (analysis/analysis.go, utils/defaults).
DEFAULT_MEASUREMENT_LIMIT = 10
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
ROLLOUTS_HINT = (
    "configure KargoResource(rollouts=RolloutsSettings(...)) to have the Argo Rollouts "
    "controller run the analysis"
)


@dataclass
class MetricState:
    """One metric of the run: its settings, then its standing as measurements come in."""

    spec: dict[str, Any]
    name: str
    provider: str
    dry_run: bool = False
    retention: int = DEFAULT_MEASUREMENT_LIMIT
    count: int | None = None
    interval: float | None = None
    initial_delay: float = 0.0
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = DEFAULT_CONSECUTIVE_ERROR_LIMIT
    consecutive_success_limit: int = 0
    due: float = 0.0
    phase: str = ""  # "" until the first measurement, as Argo Rollouts has no result yet
    message: str = ""
    tally: dict[str, int] = field(default_factory=dict)
    measurements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.phase in PHASES

    def counter(self, key: str) -> int:
        return self.tally.get(key, 0)

    def to_json(self) -> dict[str, Any]:
        # Argo Rollouts leaves out zero counters and empty strings (omitempty).
        entry: dict[str, Any] = {"name": self.name, "phase": self.phase}
        if self.measurements:
            entry["measurements"] = copy.deepcopy(self.measurements)
        if self.message:
            entry["message"] = self.message
        for key in ("count", "successful", "failed", "inconclusive", "error"):
            if self.counter(key):
                entry[key] = self.counter(key)
        if self.counter("consecutiveError"):
            entry["consecutiveError"] = self.counter("consecutiveError")
        if self.dry_run:
            entry["dryRun"] = True
        if self.counter("consecutiveSuccess"):
            entry["consecutiveSuccess"] = self.counter("consecutiveSuccess")
        return entry


def run_subject(run: Mapping[str, Any]) -> str:
    meta = run.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    namespace, name = meta.get("namespace"), meta.get("name")
    return f"AnalysisRun {namespace}/{name}" if namespace else f"AnalysisRun {name}"


def _arg_values(subject: str, args: Any) -> dict[str, str]:
    values: dict[str, str] = {}
    for arg in args if isinstance(args, list) else []:
        if not isinstance(arg, Mapping) or not isinstance(arg.get("name"), str):
            raise VerificationError(f"{subject}: every spec.args entry needs a name")
        name = arg["name"]
        if isinstance(arg.get("value"), str):
            values[name] = arg["value"]
        elif arg.get("valueFrom"):
            source = ", ".join(sorted(arg["valueFrom"])) or "valueFrom"
            raise VerificationError(
                f"{subject}: argument {name!r} takes its value from {source} (valueFrom); "
                "only the Argo Rollouts controller resolves Secret and field references: "
                f"give the argument a value, or {ROLLOUTS_HINT}"
            )
        else:
            raise VerificationError(f"{subject}: argument {name!r} has no value")
    return values


def _resolve_text(text: str, args: Mapping[str, str], where: str) -> str:
    # Argo Rollouts' fasttemplate rules: every {{tag}} must be an argument, tags are trimmed,
    # and substituted values are not scanned again.
    pieces: list[str] = []
    rest = text
    while (start := rest.find("{{")) >= 0:
        end = rest.find("}}", start + 2)
        if end < 0:
            raise VerificationError(f"{where}: '{{{{' without a closing '}}}}'")
        tag = rest[start + 2 : end].strip()
        name = tag.removeprefix("args.")
        if not tag.startswith("args.") or name not in args:
            raise VerificationError(
                f"{where}: cannot resolve {{{{{tag}}}}}: the run has no such argument"
            )
        pieces += [rest[:start], args[name]]
        rest = rest[end + 2 :]
    pieces.append(rest)
    return "".join(pieces)


def _resolve(value: Any, args: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):
        return _resolve_text(value, args, where)
    if isinstance(value, Mapping):
        return {
            _resolve_text(str(k), args, f"{where}.{k}"): _resolve(v, args, f"{where}.{k}")
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve(item, args, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def _int_setting(metric: Mapping[str, Any], key: str, where: str) -> int | None:
    # int-or-string fields; the value is not quoted back, since it may come from an argument.
    value = metric.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        return int(value)
    raise VerificationError(f"{where}: {key} must be an integer")


def _seconds(metric: Mapping[str, Any], key: str, where: str) -> float | None:
    text = metric.get(key)
    if text in (None, ""):
        return None
    try:
        return parse_duration(str(text)).nanoseconds / SECOND
    except ExpressionError as error:
        raise VerificationError(f"{where}: invalid {key}: {error.message}") from error


def _configure(metric: MetricState, where: str) -> None:
    spec = metric.spec
    count = _int_setting(spec, "count", where) or 0
    failure = _int_setting(spec, "failureLimit", where)
    success = _int_setting(spec, "consecutiveSuccessLimit", where) or 0
    inconclusive = _int_setting(spec, "inconclusiveLimit", where) or 0
    errors = _int_setting(spec, "consecutiveErrorLimit", where)
    metric.interval = _seconds(spec, "interval", where)
    metric.initial_delay = _seconds(spec, "initialDelay", where) or 0.0
    failure = 0 if failure is None else failure
    # Argo Rollouts' ValidateMetric, in its order.
    if success < 0:
        raise VerificationError(f"{where}: consecutiveSuccessLimit must be >= 0")
    if failure < -1:
        raise VerificationError(f"{where}: failureLimit must be >= 0, or -1 to be disabled")
    if success == 0 and failure == -1:
        raise VerificationError(
            f"{where}: failureLimit and consecutiveSuccessLimit cannot both be disabled"
        )
    if inconclusive < 0:
        raise VerificationError(f"{where}: inconclusiveLimit must be >= 0")
    if errors is not None and errors < 0:
        raise VerificationError(f"{where}: consecutiveErrorLimit must be >= 0")
    if count > 0 and failure >= 0 and count < failure + success:
        raise VerificationError(
            f"{where}: count ({count}) must be >= failureLimit + consecutiveSuccessLimit "
            f"({failure} + {success}) if both >= 0"
        )
    if count > 0 and failure < 0 and count < success:
        raise VerificationError(f"{where}: count must be >= consecutiveSuccessLimit")
    if 0 < count < inconclusive:
        raise VerificationError(f"{where}: count must be >= inconclusiveLimit")
    if count > 1 and metric.interval is None:
        raise VerificationError(f"{where}: interval must be specified when count > 1")
    # Argo Rollouts' EffectiveCount: 1 without count and interval, unlimited with only interval.
    metric.count = count or (None if metric.interval is not None else 1)
    metric.failure_limit = failure
    metric.inconclusive_limit = inconclusive
    metric.consecutive_error_limit = DEFAULT_CONSECUTIVE_ERROR_LIMIT if errors is None else errors
    metric.consecutive_success_limit = success


def _matching(
    subject: str, rules: Any, field_name: str, metrics: list[MetricState]
) -> list[tuple[Mapping[str, Any], list[MetricState]]]:
    matched: list[tuple[Mapping[str, Any], list[MetricState]]] = []
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        pattern = rule.get("metricName") if isinstance(rule, Mapping) else None
        try:
            # Argo Rollouts matches unanchored regular expressions (Go's MatchString).
            hits = [m for m in metrics if re.search(str(pattern), m.name)]
        except re.error:
            hits = []
        if not hits:
            raise VerificationError(
                f"{subject}: spec.{field_name}[{index}]: rule didn't match any metric name(s)"
            )
        matched.append((rule, hits))
    return matched


def prepare_metrics(run: Mapping[str, Any], providers: Mapping[str, Provider]) -> list[MetricState]:
    subject = run_subject(run)
    spec = run.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    raw = spec.get("metrics")
    if not isinstance(raw, list) or not raw:
        raise VerificationError(f"{subject}: no metrics specified")
    args = _arg_values(subject, spec.get("args"))
    metrics: list[MetricState] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise VerificationError(f"{subject}: spec.metrics[{index}] needs a name")
        where = f"{subject}: metric {entry['name']!r}"
        if any(m.name == entry["name"] for m in metrics):
            raise VerificationError(f"{where}: duplicate name")
        resolved = _resolve(entry, args, f"{where} spec.metrics[{index}]")
        kinds = list(resolved.get("provider") or {})
        if len(kinds) != 1:
            problem = "no provider specified" if not kinds else "multiple providers specified"
            raise VerificationError(f"{where}: {problem}")
        metric = MetricState(spec=resolved, name=entry["name"], provider=str(kinds[0]))
        _configure(metric, where)
        metrics.append(metric)
    for metric in metrics:
        if metric.provider not in providers:
            runs_here = ", ".join(sorted(providers)) or "none"
            raise VerificationError(
                f"{subject}: metric {metric.name!r} uses the {metric.provider!r} provider, "
                "which kargo-dagster cannot run itself (it runs these providers: "
                f"{runs_here}); this provider needs the Argo Rollouts controller: "
                f"{ROLLOUTS_HINT}"
            )
    for _rule, hits in _matching(subject, spec.get("dryRun"), "dryRun", metrics):
        for metric in hits:
            metric.dry_run = True
    retention = spec.get("measurementRetention")
    for rule, hits in _matching(subject, retention, "measurementRetention", metrics):
        limit = rule.get("limit")
        if isinstance(limit, int) and limit > 0:
            for metric in hits:
                metric.retention = limit
    return metrics
