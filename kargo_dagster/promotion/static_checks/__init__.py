"""What would fail at promotion time, found before anything runs.

A promotion that reaches a step kargo-dagster does not provide, a config Kargo's schema
refuses or an expression that cannot be evaluated stops half-way, after earlier steps may
have cloned, committed or pushed. :func:`check_catalog` finds these mistakes in the loaded
manifests:

* **Step kinds.** Every step (a Stage's, with its PromotionTasks inflated, and every
  PromotionTask's) must use a kind kargo-dagster provides. Only the kinds' names and
  Kargo's schemas are needed: the checks never import a step or the clients it uses.
* **Step configs.** Each config is validated against Kargo's JSON schema for its step, with
  every string holding ``${{ }}`` replaced by a placeholder of a type the schema allows
  there, so only what is written literally is judged: a missing ``repoURL``, a number where
  a string belongs, an unknown key. A rule whose outcome depends on what an expression
  evaluates to (a ``pattern``, a ``oneOf`` over an object holding one) is left to run time.
* **Expressions.** Every ``${{ }}`` (in step configs, ``if``, vars and verification args)
  and every Warehouse's ``freightCreationCriteria`` must parse, call only functions that
  exist there with an argument count they accept, and refer only to what exists where it is
  evaluated: ``vars.<name>`` defined before it (Stage, template, step or task vars, in
  Kargo's order), ``outputs.<alias>`` of an earlier step (or task), ``task.outputs.<alias>``
  of an earlier step of the same PromotionTask, and ``ctx`` fields the engine provides.
* **Deep links.** The ``freightLinks`` and ``stageLinks`` of a ProjectConfig or of the
  ClusterConfig must have URL templates that parse and use only what kargo-dagster renders,
  and ``if`` conditions that parse.

Not checked: anything that depends on values only known at run time (an expression's result
type, whether ``imageFrom()`` finds the image, a file a step reads), the steps' own config
models beyond Kargo's schema, and the expressions some steps evaluate themselves later
(``http``'s ``successExpression``, the parse steps' ``fromExpression``).
"""

from collections.abc import Collection, Iterator

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.promotion.builtin_kinds import BUILTIN_STEP_KINDS
from kargo_dagster.promotion.static_checks.deep_links import check_links
from kargo_dagster.promotion.static_checks.freight_criteria import check_criteria
from kargo_dagster.promotion.static_checks.promotion_tasks import check_task
from kargo_dagster.promotion.static_checks.stages import check_stage
from kargo_dagster.promotion.static_checks.task_uses import TaskUses
from kargo_dagster.spec.catalog import Catalog, ProjectManifests

__all__ = ["check_catalog"]


def check_catalog(
    catalog: Catalog, step_kinds: Collection[str] = BUILTIN_STEP_KINDS
) -> list[ManifestProblem]:
    """Every mistake in ``catalog`` that would make a promotion fail once it has started.

    Call it on the catalog :func:`~kargo_dagster.spec.load_manifests` returned: the loader
    has already refused what is wrong in each object on its own (unknown fields, dangling
    references, unknown step kinds), and these checks assume it did. An empty list means
    every promotion, verification and Freight creation can at least start every step; a
    command such as ``validate`` reports the problems like the loader's (``str(problem)``,
    or ``raise ManifestError(problems)`` to refuse the manifests).

    Args:
        catalog: The loaded manifests.
        step_kinds: The names of the step kinds promotions may use: the built-in steps by
            default, or a :class:`~kargo_dagster.promotion.registry.StepRegistry`.

    Returns:
        The problems, each at the file and line of the offending field, without duplicates,
        sorted by file and line as :class:`~kargo_dagster.errors.ManifestError` lists them.
        What a PromotionTask reads but a Stage using it does not provide (a var, an output)
        is reported at that Stage's ``task:`` step, or once at the task when no Stage using
        it provides it.
    """
    problems: list[ManifestProblem] = []
    task_uses = TaskUses()
    for project in catalog.projects.values():
        problems.extend(_check_project(catalog, project, step_kinds, task_uses))
    for task in catalog.cluster_promotion_tasks.values():
        problems.extend(check_task(task, step_kinds))
    problems.extend(check_links(catalog.cluster_config))
    problems.extend(task_uses.problems())
    return sorted(dict.fromkeys(problems), key=lambda p: (p.file, p.line, p.field))


def _check_project(
    catalog: Catalog,
    project: ProjectManifests,
    step_kinds: Collection[str],
    task_uses: TaskUses,
) -> Iterator[ManifestProblem]:
    yield from check_links(project.config)
    for warehouse in project.warehouses.values():
        yield from check_criteria(warehouse)
    for task in project.promotion_tasks.values():
        yield from check_task(task, step_kinds)
    for stage in project.stages.values():
        yield from check_stage(catalog, stage, step_kinds, task_uses)
