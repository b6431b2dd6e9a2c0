"""The promotion's work directory exists while steps run and is gone afterwards."""

from pathlib import Path
from typing import Any, ClassVar

import pytest

from kargo_dagster.promotion.step import StepContext, StepKind, StepOutput
from tests.promotion.engine_support import AnyConfig, Harness, step


class Crash(StepKind[AnyConfig]):
    """A step with a bug: raises something that is not a step error."""

    name: ClassVar[str] = "crash"
    config_model = AnyConfig

    def run(self, ctx: StepContext, config: AnyConfig) -> StepOutput:
        """Leave a file behind, then crash."""
        (ctx.work_dir / "left-behind").write_text("x")
        raise RuntimeError("bug in a step")


def _dirs(root: Path) -> list[Path]:
    return list(root.iterdir()) if root.exists() else []


@pytest.mark.parametrize(
    "steps",
    [
        [step("a"), step("b")],
        [step("a"), step("boom", "explode")],
        [step("a"), step("f", "flaky", config={"failures": 1})],
    ],
)
def test_the_work_dir_is_shared_and_removed(tmp_path: Path, steps: list[Any]) -> None:
    root = tmp_path / "promotions"
    harness = Harness(root)
    harness.run(steps)
    work_dirs = {call.work_dir for call in harness.recorder.calls}
    assert len(work_dirs) == 1
    (work_dir,) = work_dirs
    assert work_dir.parent == root
    assert work_dir.name.startswith("dev.01jabcdefghijkmnpqrstvwxyz.6e372ca.")
    assert not work_dir.exists()
    assert _dirs(root) == []


def test_the_work_dir_is_removed_when_a_step_crashes(tmp_path: Path) -> None:
    root = tmp_path / "promotions"
    harness = Harness(root, extra=[Crash()])
    with pytest.raises(RuntimeError, match="bug in a step"):
        harness.run([step("a"), step("c", "crash")])
    assert harness.recorder.calls
    assert _dirs(root) == []


def test_each_promotion_gets_its_own_directory(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.run([step("a")])
    harness.run([step("a")])
    first, second = (call.work_dir for call in harness.recorder.calls)
    assert first != second
