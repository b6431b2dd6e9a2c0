"""``load_manifests``: YAML files in, a validated :class:`Catalog` out, or every problem.

Reading happens in four passes so that one run reports everything wrong at once:

1. parse each file (a syntax error stops only that file);
2. validate each document against its model (errors become ``file:line`` problems);
3. detect duplicates and place each object in its namespace;
4. cross-check references, the Stage graph and the steps.

What is read but not used (an empty file, a document of a kind kargo-dagster does not read)
is no error, but is worth knowing: it becomes a warning for callers that ask for them.
"""

import logging
import os
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from kargo_dagster.errors import ManifestError, ManifestProblem
from kargo_dagster.spec.analysis import AnalysisTemplate, ClusterAnalysisTemplate
from kargo_dagster.spec.base import KargoObject, SourceLocation
from kargo_dagster.spec.catalog import Catalog, ProjectManifests
from kargo_dagster.spec.cluster_config import ClusterConfig
from kargo_dagster.spec.crosscheck import (
    ClusterObjects,
    Identity,
    ManifestObject,
    NamespaceGroup,
    check_cluster,
    check_namespace,
    check_steps,
    problem,
)
from kargo_dagster.spec.diagnostics import did_you_mean, validation_problems
from kargo_dagster.spec.ignored_fields import ignored_fields
from kargo_dagster.spec.locations import Document, read_documents
from kargo_dagster.spec.project import Project, ProjectConfig
from kargo_dagster.spec.stage import Stage
from kargo_dagster.spec.tasks import ClusterPromotionTask, PromotionTask
from kargo_dagster.spec.warehouse import Warehouse

__all__ = ["KARGO_API_VERSION", "MAX_FILE_BYTES", "load_manifests"]

logger = logging.getLogger(__name__)

KARGO_API_VERSION = "kargo.akuity.io/v1alpha1"
_ROLLOUTS_API_VERSION = "argoproj.io/v1alpha1"

_KARGO_KINDS: dict[str, type[KargoObject]] = {
    "Project": Project,
    "ProjectConfig": ProjectConfig,
    "Warehouse": Warehouse,
    "Stage": Stage,
    "PromotionTask": PromotionTask,
    "ClusterPromotionTask": ClusterPromotionTask,
    "ClusterConfig": ClusterConfig,
}
_ROLLOUTS_KINDS: dict[str, type[KargoObject]] = {
    "AnalysisTemplate": AnalysisTemplate,
    "ClusterAnalysisTemplate": ClusterAnalysisTemplate,
}
_CLUSTER_SCOPED = frozenset(
    {"Project", "ClusterPromotionTask", "ClusterAnalysisTemplate", "ClusterConfig"}
)

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Largest manifest file read (5 MB); the largest real ones are a few tens of kilobytes."""


def load_manifests(
    path: str | os.PathLike[str], *, warnings: list[ManifestProblem] | None = None
) -> Catalog:
    """Loads and validates the Kargo manifests in a file or a directory tree.

    Directories are searched recursively for ``*.yaml`` and ``*.yml`` files, read in sorted
    order; each file may hold several documents. Kinds other than the Kargo kinds and Argo
    Rollouts (Cluster)AnalysisTemplates are skipped, with a warning.

    Args:
        path: A manifest file or a directory.
        warnings: If given, gets what was skipped (empty files, documents of other kinds),
            one problem each, whether or not loading succeeds; and, once the manifests
            load, each field set that has no effect here (``shard``, ``autoRollback``,
            ``promotionWindows``, some of the ClusterConfig's).

    Returns:
        The validated objects, grouped by Project.

    Raises:
        ManifestError: Anything is wrong; ``problems`` lists every mistake in every file.

    Examples:
        >>> catalog = load_manifests("stages")  # doctest: +SKIP
        >>> catalog.projects["kargo-simple"].stage_order()  # doctest: +SKIP
        ['dev', 'staging', 'prod']
    """
    problems: list[ManifestProblem] = []
    skipped: list[ManifestProblem] = [] if warnings is None else warnings
    objects: list[ManifestObject] = []
    broken: set[Identity] = set()
    for file in _manifest_files(path, problems):
        text = _read_file(file, problems)
        if text is None:
            continue
        documents, syntax = read_documents(text, file)
        problems.extend(syntax)
        if not documents and not syntax:
            skipped.append(_file_problem(file, "no YAML documents in the file; nothing read"))
        for document in documents:
            obj = _validate(document, problems, broken, skipped)
            if obj is not None:
                objects.append(obj)
    catalog = _assemble(objects, frozenset(broken), problems)
    if problems:
        raise ManifestError(problems)
    skipped.extend(ignored_fields(catalog))
    return catalog


def _read_file(file: str, problems: list[ManifestProblem]) -> str | None:
    try:
        with open(file, encoding="utf-8") as stream:
            # A character past the limit is enough to know; the rest stays unread.
            text = stream.read(MAX_FILE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(_file_problem(file, f"cannot read the file ({exc})"))
        return None
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        problems.append(
            _file_problem(
                file,
                f"the file is larger than {MAX_FILE_BYTES:,} bytes (the limit); split it "
                "into several files",
            )
        )
        return None
    return text


def _manifest_files(path: str | os.PathLike[str], problems: list[ManifestProblem]) -> list[str]:
    root = Path(path)
    if root.is_file():
        return [os.fspath(path)]
    if not root.is_dir():
        problems.append(_file_problem(os.fspath(path), "no such file or directory"))
        return []
    found = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    # Sort on the relative path so the order (and so problem order) is stable everywhere.
    return [os.fspath(p) for p in sorted(found, key=lambda p: p.relative_to(root).as_posix())]


def _file_problem(file: str, message: str) -> ManifestProblem:
    return ManifestProblem(file=file, line=1, kind="", name="", field="", message=message)


def _validate(
    document: Document,
    problems: list[ManifestProblem],
    broken: set[Identity],
    skipped: list[ManifestProblem],
) -> ManifestObject | None:
    data = document.data
    if not isinstance(data, dict):
        problems.append(
            _document_problem(
                document, "a manifest document must be a mapping with apiVersion, kind and metadata"
            )
        )
        return None
    kind, api_version = data.get("kind"), data.get("apiVersion")
    metadata = data.get("metadata")
    name = str(metadata.get("name", "")) if isinstance(metadata, dict) else ""
    if kind is not None and not isinstance(kind, str):
        problems.append(_kind_problem(document, kind))
        return None
    model = _model_for(document, kind, api_version, name, problems, skipped)
    if model is None:
        return None
    kind = str(kind)  # _model_for only returns a model for a known (string) kind
    namespace = str(metadata.get("namespace", "")) if isinstance(metadata, dict) else ""
    context = {
        "source": SourceLocation(file=document.file, line=document.line),
        "lines": document.lines,
    }
    try:
        # by_name=False: YAML must use Kargo's camelCase keys, not the Python attribute names.
        obj = model.model_validate(data, context=context, by_alias=True, by_name=False)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, model, document, kind, name))
        broken.add((kind, "" if kind in _CLUSTER_SCOPED else namespace, name))
        return None
    return cast(ManifestObject, obj)


def _model_for(
    document: Document,
    kind: str | None,
    api_version: Any,
    name: str,
    problems: list[ManifestProblem],
    skipped: list[ManifestProblem],
) -> type[KargoObject] | None:
    if kind in _KARGO_KINDS:
        if api_version == KARGO_API_VERSION:
            return _KARGO_KINDS[kind]
        if isinstance(api_version, str) and api_version.startswith("kargo.akuity.io/"):
            problems.append(
                ManifestProblem(
                    file=document.file,
                    line=document.line_of(("apiVersion",)),
                    kind=kind,
                    name=name,
                    field="apiVersion",
                    message=f"unsupported version {api_version!r}; write apiVersion: "
                    f"{KARGO_API_VERSION}",
                )
            )
            return None
    if kind in _ROLLOUTS_KINDS and api_version == _ROLLOUTS_API_VERSION:
        return _ROLLOUTS_KINDS[kind]
    logger.debug(
        "%s:%d: skipping %s %s/%s: not a kind kargo-dagster reads",
        document.file,
        document.line,
        api_version,
        kind,
        name,
    )
    skipped.append(_skipped(document, kind, api_version, name))
    return None


def _document_problem(document: Document, message: str) -> ManifestProblem:
    return ManifestProblem(
        file=document.file, line=document.line, kind="", name="", field="", message=message
    )


def _kind_problem(document: Document, kind: Any) -> ManifestProblem:
    shown = repr(kind) if isinstance(kind, int | float | bool) else type(kind).__name__
    return ManifestProblem(
        file=document.file,
        line=document.line_of(("kind",)),
        kind="",
        name="",
        field="kind",
        message=f"must be a string naming the object's kind, like Stage (got {shown})",
    )


def _skipped(document: Document, kind: str | None, api_version: Any, name: str) -> ManifestProblem:
    if kind is None:
        message = "no kind, so not a Kubernetes manifest; skipped"
    elif kind in _KARGO_KINDS or kind in _ROLLOUTS_KINDS:
        wanted = KARGO_API_VERSION if kind in _KARGO_KINDS else _ROLLOUTS_API_VERSION
        message = (
            f"{kind} of apiVersion {api_version!r} is not one kargo-dagster reads; skipped "
            f"(write apiVersion: {wanted} to have it read)"
        )
    else:
        hint = did_you_mean(kind, [*_KARGO_KINDS, *_ROLLOUTS_KINDS])
        message = f"kind {kind!r} is not one kargo-dagster reads; skipped{hint}"
    return ManifestProblem(
        file=document.file,
        line=document.line_of(("kind",)),
        kind="" if kind is None else kind,
        name=name,
        field="",
        message=message,
    )


def _assemble(
    objects: list[ManifestObject], broken: frozenset[Identity], problems: list[ManifestProblem]
) -> Catalog:
    projects: dict[str, Project] = {}
    cluster_tasks: dict[str, ClusterPromotionTask] = {}
    cluster_templates: dict[str, ClusterAnalysisTemplate] = {}
    cluster_config: ClusterConfig | None = None
    groups: dict[str, NamespaceGroup] = {}
    first_seen: dict[Identity, KargoObject] = {}
    for obj in objects:
        kind, meta = obj.kind, obj.metadata
        scoped = kind not in _CLUSTER_SCOPED
        namespace = meta.namespace or "" if scoped else ""
        identity: Identity = (kind, namespace, meta.name)
        if scoped and not namespace:
            problems.append(problem(obj, ("metadata",), _missing_namespace(objects)))
            continue
        if identity in first_seen:
            other = first_seen[identity]
            problems.append(
                problem(
                    obj,
                    ("metadata", "name"),
                    f"{kind} {meta.name!r} is defined twice: here and at {other.source}; "
                    "keep one of them",
                )
            )
            continue
        first_seen[identity] = obj
        if isinstance(obj, Project):
            projects[meta.name] = obj
        elif isinstance(obj, ClusterPromotionTask):
            cluster_tasks[meta.name] = obj
        elif isinstance(obj, ClusterAnalysisTemplate):
            cluster_templates[meta.name] = obj
        elif isinstance(obj, ClusterConfig):
            cluster_config = obj
        else:
            group = groups.setdefault(namespace, NamespaceGroup(namespace=namespace))
            _place(obj, group)
    for task in cluster_tasks.values():
        problems.extend(check_steps(task))
    cluster = ClusterObjects(cluster_tasks, cluster_templates, broken)
    for namespace, group in groups.items():
        if namespace not in projects and ("Project", "", namespace) not in broken:
            problems.append(_no_project(group, namespace))
        for obj in [*group.stages.values(), *group.promotion_tasks.values()]:
            problems.extend(check_steps(obj))
        problems.extend(check_namespace(group, cluster))
    problems.extend(check_cluster(projects.values()))
    return Catalog(
        projects={
            name: _manifests(project, groups.get(name), cluster_config)
            for name, project in projects.items()
        },
        cluster_promotion_tasks=cluster_tasks,
        cluster_analysis_templates=cluster_templates,
        cluster_config=cluster_config,
    )


def _place(obj: ManifestObject, group: NamespaceGroup) -> None:
    group.members.append(obj)
    if isinstance(obj, ProjectConfig):
        group.config = obj
    elif isinstance(obj, Warehouse):
        group.warehouses[obj.metadata.name] = obj
    elif isinstance(obj, Stage):
        group.stages[obj.metadata.name] = obj
    elif isinstance(obj, PromotionTask):
        group.promotion_tasks[obj.metadata.name] = obj
    elif isinstance(obj, AnalysisTemplate):
        group.analysis_templates[obj.metadata.name] = obj


def _manifests(
    project: Project, group: NamespaceGroup | None, cluster_config: ClusterConfig | None
) -> ProjectManifests:
    group = group or NamespaceGroup(namespace=project.metadata.name)
    return ProjectManifests(
        name=project.metadata.name,
        project=project,
        config=group.config,
        cluster_config=cluster_config,
        warehouses=dict(sorted(group.warehouses.items())),
        stages=dict(sorted(group.stages.items())),
        promotion_tasks=dict(sorted(group.promotion_tasks.items())),
        analysis_templates=dict(sorted(group.analysis_templates.items())),
    )


def _missing_namespace(objects: list[ManifestObject]) -> str:
    names = sorted({o.metadata.name for o in objects if isinstance(o, Project)})
    example = names[0] if len(names) == 1 else "<project>"
    return f"namespace is required; write namespace: {example} (the Project's name)"


def _no_project(group: NamespaceGroup, namespace: str) -> ManifestProblem:
    first = min(group.members, key=lambda o: (o.source.file, o.source.line))
    return problem(
        first,
        ("metadata", "namespace"),
        f"namespace {namespace!r} has no Project; add a Project manifest named {namespace} "
        f"(kind: Project, apiVersion: {KARGO_API_VERSION})",
    )
