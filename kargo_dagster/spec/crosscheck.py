"""Checks that span objects: references, the Stage graph, steps, and Dagster names.

These run after each object validated on its own. Objects that failed validation are passed
in as ``broken`` identities so that a reference to them is not reported a second time.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import cast

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.redaction import has_credentials
from kargo_dagster.spec.analysis import AnalysisTemplate, ClusterAnalysisTemplate
from kargo_dagster.spec.base import KargoObject
from kargo_dagster.spec.diagnostics import did_you_mean
from kargo_dagster.spec.locations import FieldPath
from kargo_dagster.spec.project import Project, ProjectConfig
from kargo_dagster.spec.removed import removed_step_syntax
from kargo_dagster.spec.stage import Stage
from kargo_dagster.spec.step_kinds import REMOVED_STEP_KINDS, STEP_KINDS
from kargo_dagster.spec.steps import ExpressionVariable
from kargo_dagster.spec.tasks import ClusterPromotionTask, PromotionTask
from kargo_dagster.spec.warehouse import Warehouse

__all__ = [
    "CREDENTIALS_IN_URL",
    "ClusterObjects",
    "Identity",
    "ManifestObject",
    "NamespaceGroup",
    "check_cluster",
    "check_namespace",
    "check_steps",
    "problem",
]

ManifestObject = (
    Project
    | ProjectConfig
    | Warehouse
    | Stage
    | PromotionTask
    | ClusterPromotionTask
    | AnalysisTemplate
    | ClusterAnalysisTemplate
)
"""Any object the loader keeps."""

Identity = tuple[str, str, str]
"""``(kind, namespace or "", name)`` of an object."""

_TEMPLATE_STEPS: FieldPath = ("spec", "promotionTemplate", "spec", "steps")
_TASK_STEPS: FieldPath = ("spec", "steps")


@dataclass
class NamespaceGroup:
    """The valid objects of one namespace, as the loader collected them."""

    namespace: str
    members: list[ManifestObject] = field(default_factory=list)
    config: ProjectConfig | None = None
    warehouses: dict[str, Warehouse] = field(default_factory=dict)
    stages: dict[str, Stage] = field(default_factory=dict)
    promotion_tasks: dict[str, PromotionTask] = field(default_factory=dict)
    analysis_templates: dict[str, AnalysisTemplate] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterObjects:
    """Cluster-scoped objects that namespaced ones may refer to."""

    promotion_tasks: dict[str, ClusterPromotionTask]
    analysis_templates: dict[str, ClusterAnalysisTemplate]
    broken: frozenset[Identity]


def problem(obj: KargoObject, path: FieldPath, message: str) -> ManifestProblem:
    """A problem about ``path`` of ``obj``, at the line of that field."""
    metadata = getattr(obj, "metadata", None)
    return ManifestProblem(
        file=obj.source.file,
        line=obj.line_of(path),
        kind=str(getattr(obj, "kind", "")),
        name=getattr(metadata, "name", ""),
        field=".".join(str(part) for part in path),
        message=message,
    )


def check_steps(obj: Stage | PromotionTask | ClusterPromotionTask) -> list[ManifestProblem]:
    """Step kinds, alias uniqueness and removed syntax in one object's steps."""
    if isinstance(obj, Stage):
        steps, base = obj.steps, _TEMPLATE_STEPS
    else:
        steps, base = obj.spec.steps, _TASK_STEPS
    problems: list[ManifestProblem] = []
    aliases: dict[str, int] = {}
    for index, step in enumerate(steps):
        path = (*base, index)
        if step.uses is not None and step.uses not in STEP_KINDS:
            removed = REMOVED_STEP_KINDS.get(step.uses)
            message = removed or (
                f"unknown step kind {step.uses!r}"
                + (did_you_mean(step.uses, STEP_KINDS) or "; see Kargo's built-in steps")
            )
            problems.append(problem(obj, (*path, "uses"), message))
        if step.as_ is not None:
            if step.as_ in aliases:
                problems.append(
                    problem(
                        obj,
                        (*path, "as"),
                        f"alias {step.as_!r} is already used by steps.{aliases[step.as_]}; "
                        "give each step its own alias",
                    )
                )
            else:
                aliases[step.as_] = index
    problems.extend(problem(obj, p, m) for p, m in removed_step_syntax(steps, base))
    problems.extend(problem(obj, p, CREDENTIALS_IN_URL) for p in _credential_urls(obj, base))
    return problems


CREDENTIALS_IN_URL = (
    "a URL here must not carry credentials: they would be written into checkouts, state and "
    "messages. Remove them from the URL and configure them as repository credentials (the "
    "kargo resource's credentials, KARGO_DAGSTER_CREDS_* variables or a Kargo credential "
    "Secret)"
)


def _credential_urls(
    obj: Stage | PromotionTask | ClusterPromotionTask, steps_path: FieldPath
) -> Iterator[FieldPath]:
    """Where the object's vars and step configs hold a URL with credentials in it."""
    if isinstance(obj, Stage):
        yield from _vars_with_credentials(obj.spec.vars, ("spec", "vars"))
        template = obj.spec.promotion_template
        if template is not None:
            yield from _vars_with_credentials(template.spec.vars, (*steps_path[:-1], "vars"))
        steps = obj.steps
    else:
        yield from _vars_with_credentials(obj.spec.vars, ("spec", "vars"))
        steps = obj.spec.steps
    for index, step in enumerate(steps):
        path = (*steps_path, index)
        yield from _vars_with_credentials(step.vars, (*path, "vars"))
        yield from _strings_with_credentials(step.config, (*path, "config"))


def _vars_with_credentials(
    variables: Iterable[ExpressionVariable], path: FieldPath
) -> Iterator[FieldPath]:
    for index, variable in enumerate(variables):
        if variable.value is not None and has_credentials(variable.value):
            yield (*path, index, "value")


def _strings_with_credentials(value: object, path: FieldPath) -> Iterator[FieldPath]:
    if isinstance(value, str):
        if has_credentials(value):
            yield path
    elif isinstance(value, dict):
        for key, item in cast("dict[str, object]", value).items():
            yield from _strings_with_credentials(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(cast("list[object]", value)):
            yield from _strings_with_credentials(item, (*path, index))


def check_namespace(group: NamespaceGroup, cluster: ClusterObjects) -> list[ManifestProblem]:
    """References between the objects of one namespace (and to cluster objects)."""
    problems: list[ManifestProblem] = []
    ns = group.namespace
    for stage in group.stages.values():
        problems.extend(_check_requests(stage, group, cluster.broken))
        problems.extend(_check_task_refs(stage, group, cluster))
    problems.extend(_check_cycles(group))
    problems.extend(_collisions(group.stages.values(), f"in namespace {ns}"))
    problems.extend(_collisions(group.warehouses.values(), f"in namespace {ns}"))
    return problems


def check_cluster(projects: Iterable[Project]) -> list[ManifestProblem]:
    """Checks across Projects: their Dagster names must not collide."""
    return _collisions(projects, "among Projects")


def _check_requests(
    stage: Stage, group: NamespaceGroup, broken: frozenset[Identity]
) -> list[ManifestProblem]:
    problems: list[ManifestProblem] = []
    for index, request in enumerate(stage.spec.requested_freight):
        base: FieldPath = ("spec", "requestedFreight", index)
        origin = request.origin.name
        if origin not in group.warehouses and ("Warehouse", group.namespace, origin) not in broken:
            problems.append(
                problem(
                    stage,
                    (*base, "origin", "name"),
                    f"no Warehouse {origin!r} in namespace {group.namespace}"
                    + (
                        did_you_mean(origin, group.warehouses)
                        or "; define it or name an existing Warehouse"
                    ),
                )
            )
        for up_index, upstream_name in enumerate(request.sources.stages):
            path = (*base, "sources", "stages", up_index)
            upstream = group.stages.get(upstream_name)
            if upstream is None:
                if ("Stage", group.namespace, upstream_name) not in broken:
                    problems.append(
                        problem(
                            stage,
                            path,
                            f"no Stage {upstream_name!r} in namespace {group.namespace}"
                            + (
                                did_you_mean(upstream_name, group.stages)
                                or "; define it or name an existing Stage"
                            ),
                        )
                    )
            elif upstream.request_for(origin) is None:
                problems.append(
                    problem(
                        stage,
                        path,
                        f"upstream Stage {upstream_name!r} does not request Freight from "
                        f"Warehouse {origin!r}, so it never has any to pass on; add that origin "
                        f"to {upstream_name}'s requestedFreight or use direct: true",
                    )
                )
    return problems


def _check_task_refs(
    stage: Stage, group: NamespaceGroup, cluster: ClusterObjects
) -> list[ManifestProblem]:
    problems: list[ManifestProblem] = []
    template = stage.spec.promotion_template
    if template is None:
        return problems
    outer_vars = {v.name for v in stage.spec.vars} | {v.name for v in template.spec.vars}
    for index, step in enumerate(template.spec.steps):
        ref = step.task
        if ref is None:
            continue
        path = (*_TEMPLATE_STEPS, index, "task")
        task: PromotionTask | ClusterPromotionTask | None
        if ref.kind == "ClusterPromotionTask":
            task = cluster.promotion_tasks.get(ref.name)
            known: Iterable[str] = cluster.promotion_tasks
            broken_id: Identity = ("ClusterPromotionTask", "", ref.name)
        else:
            task = group.promotion_tasks.get(ref.name)
            known = group.promotion_tasks
            broken_id = ("PromotionTask", group.namespace, ref.name)
        if task is None:
            if broken_id not in cluster.broken:
                where = "" if ref.kind == "ClusterPromotionTask" else f" in {group.namespace}"
                problems.append(
                    problem(
                        stage,
                        (*path, "name"),
                        f"no {ref.kind} {ref.name!r}{where}"
                        + (did_you_mean(ref.name, known) or f"; define the {ref.kind}"),
                    )
                )
            continue
        provided = outer_vars | {v.name for v in step.vars}
        problems.extend(
            problem(
                stage,
                (*_TEMPLATE_STEPS, index),
                f"{ref.kind} {ref.name!r} requires var {missing!r}, which nothing provides; "
                f"add '- name: {missing}' with a value to this step's vars, the template's "
                "vars or the Stage's vars",
            )
            for missing in task.spec.required_vars
            if missing not in provided
        )
    return problems


def _check_cycles(group: NamespaceGroup) -> list[ManifestProblem]:
    graph = {
        name: sorted(
            {s for r in stage.spec.requested_freight for s in r.sources.stages}
            & group.stages.keys()
        )
        for name, stage in group.stages.items()
    }
    problems: list[ManifestProblem] = []
    reported: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        path.append(name)
        for upstream in graph[name]:
            if state.get(upstream) == 1:
                cycle = path[path.index(upstream) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    problems.append(_cycle_problem(group, cycle))
            elif upstream not in state:
                visit(upstream, path)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    return problems


def _upstreams(stage: Stage) -> set[str]:
    return {s for request in stage.spec.requested_freight for s in request.sources.stages}


def _cycle_problem(group: NamespaceGroup, cycle: list[str]) -> ManifestProblem:
    # ``cycle`` follows upstream edges; show it in promotion order (upstream first).
    ordered = list(reversed(cycle))
    first = min(cycle)
    start = ordered.index(first)
    flow = [*ordered[start:], *ordered[:start], first]
    stage = group.stages[first]
    for index, request in enumerate(stage.spec.requested_freight):
        for up_index, upstream in enumerate(request.sources.stages):
            if upstream in cycle:
                path: FieldPath = ("spec", "requestedFreight", index, "sources", "stages", up_index)
                return problem(
                    stage,
                    path,
                    f"Stages form a cycle: {' -> '.join(flow)}; Freight could never enter it, "
                    "so remove one of these upstream links",
                )
    return problem(stage, ("spec", "requestedFreight"), f"Stages form a cycle: {flow}")


def _collisions(
    objects: Iterable[Stage | Warehouse | Project], scope: str
) -> list[ManifestProblem]:
    # Dagster group, op, job and sensor names allow only [A-Za-z0-9_]; kargo-dagster maps '-'
    # to '_'. RFC 1123 names cannot hold '_', so in practice only '.' is a problem, but the
    # collision check keeps the mapping safe should either rule change.
    seen: dict[str, Stage | Warehouse | Project] = {}
    problems: list[ManifestProblem] = []
    for obj in sorted(objects, key=lambda o: (o.source.file, o.source.line)):
        key = obj.metadata.name.replace("-", "_")
        if "." in key:
            problems.append(
                problem(
                    obj,
                    ("metadata", "name"),
                    f"{obj.kind} names become Dagster names, which cannot contain '.'; rename it "
                    f"to {obj.metadata.name.replace('.', '-')!r}",
                )
            )
            continue
        other = seen.get(key)
        if other is None:
            seen[key] = obj
            continue
        problems.append(
            problem(
                obj,
                ("metadata", "name"),
                f"{obj.kind} names {other.metadata.name!r} ({other.source}) and "
                f"{obj.metadata.name!r} {scope} both become the Dagster name {key!r}; rename one",
            )
        )
    return problems
