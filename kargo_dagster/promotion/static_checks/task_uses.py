"""What PromotionTasks need from the Stages that use them, and where a lack is reported."""

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.promotion.static_checks.field_paths import dotted
from kargo_dagster.promotion.static_checks.promotion_tasks import Task
from kargo_dagster.spec.crosscheck import problem
from kargo_dagster.spec.locations import FieldPath
from kargo_dagster.spec.stage import Stage

__all__ = ["TaskUses", "Use"]

Use = tuple[Stage, FieldPath]
"""A Stage and its ``task:`` step."""


@dataclass
class TaskUses:
    """What tasks need from the Stages that use them, gathered over every Stage.

    A var or output a task's text reads but a Stage does not provide is reported at that
    Stage's ``task:`` step; when no Stage using the task provides it, the task itself is
    wrong, and it is reported once, at the task's field.
    """

    uses: dict[int, list[Use]] = dataclasses.field(default_factory=dict)
    lacking: dict[tuple[int, FieldPath, str], list[Use]] = dataclasses.field(default_factory=dict)
    tasks: dict[int, Task] = dataclasses.field(default_factory=dict)

    def use(self, task: Task, use: Use) -> None:
        self.tasks[id(task)] = task
        if use not in self.uses.setdefault(id(task), []):
            self.uses[id(task)].append(use)

    def lacks(self, task: Task, path: FieldPath, message: str, use: Use) -> None:
        found = self.lacking.setdefault((id(task), path, message), [])
        if use not in found:
            found.append(use)

    def problems(self) -> Iterator[ManifestProblem]:
        for (task_id, path, message), lacking in self.lacking.items():
            task = self.tasks[task_id]
            if len(lacking) == len(self.uses[task_id]):
                stages = ", ".join(sorted({stage.metadata.name for stage, _ in lacking}))
                yield problem(task, path, f"{message} (in every Stage using the task: {stages})")
                continue
            where = f"{task.kind} {task.metadata.name!r} {dotted(path)}"
            for stage, reference in lacking:
                yield problem(stage, reference, f"{where}: {message}")
