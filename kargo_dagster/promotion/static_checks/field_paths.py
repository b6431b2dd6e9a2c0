"""Where steps stand in Stages and PromotionTasks, and field paths written as text."""

from kargo_dagster.spec.locations import FieldPath

__all__ = ["TASK_STEPS", "TEMPLATE", "dotted"]

TEMPLATE: FieldPath = ("spec", "promotionTemplate", "spec")
TASK_STEPS: FieldPath = ("spec", "steps")


def dotted(path: FieldPath) -> str:
    return ".".join(str(part) for part in path)
