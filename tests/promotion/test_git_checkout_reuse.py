"""Checkouts kept between promotions: each promotion still starts from exactly the remote."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.promotion.builtin import BUILTIN_STEPS
from kargo_dagster.promotion.engine import PromotionServices, run_promotion
from kargo_dagster.promotion.expansion import PlannedStep
from kargo_dagster.promotion.registry import StepRegistry
from kargo_dagster.promotion.results import PromotionResult
from kargo_dagster.promotion.step import StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.git.checkout_pool import CheckoutPool
from kargo_dagster.testing.git_remote import GitRemote
from tests.promotion.engine_support import PROMOTION, AnyConfig
from tests.promotion.git_support import git


@pytest.fixture
def remote(tmp_path: Path) -> GitRemote:
    repo = GitRemote.create(tmp_path / "remotes", "app")
    repo.commit(
        "first",
        {"README.md": "hello\n", "dev/values.yaml": "tag: v1\n", "prod/values.yaml": "tag: v0\n"},
    )
    repo.commit("env", {"env.txt": "dev\n"}, branch="env/dev", parents=[])
    return repo


class Snapshot(StepKind[AnyConfig]):
    """Records the files of the checkout at ``path`` (outside ``.git``) and their contents."""

    name = "snapshot"
    config_model = AnyConfig

    def __init__(self) -> None:
        self.files: dict[str, str] = {}

    def run(self, ctx: StepContext, config: AnyConfig) -> StepOutput:
        root = ctx.path(str(config.values["path"]))
        self.files = {
            str(p.relative_to(root)): p.read_text()
            for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts
        }
        return {}


def clone(url: str, *checkouts: dict[str, Any], **extra: Any) -> PlannedStep:
    return PlannedStep(
        alias="clone",
        uses="git-clone",
        config={"repoURL": url, "checkout": list(checkouts), **extra},
    )


def promote(
    tmp_path: Path, *steps: PlannedStep, snapshot: Snapshot | None = None
) -> PromotionResult:
    result = run_promotion(
        steps=list(steps),
        registry=StepRegistry([*BUILTIN_STEPS, snapshot or Snapshot()]),
        promotion=PROMOTION,
        services=PromotionServices(git_cache_dir=tmp_path / "cache"),
        work_root=tmp_path / "work",
    )
    return result


def parked(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").glob("*/checkouts/*"))


def test_a_kept_checkout_comes_back_clean_at_the_remotes_commit(
    tmp_path: Path, remote: GitRemote
) -> None:
    # The first promotion leaves a mess: an edited file, an untracked file, a staged one,
    # and a local commit it never pushed.
    mess = [
        clone(remote.url, {"path": "src", "branch": "main"}),
        PlannedStep(
            alias="edit",
            uses="file-write",
            config={"path": "src/dev/values.yaml", "contents": "tag: local\n", "overwrite": True},
        ),
        PlannedStep(
            alias="commit", uses="git-commit", config={"path": "src", "message": "unpushed"}
        ),
        PlannedStep(
            alias="junk", uses="file-write", config={"path": "src/junk.txt", "contents": "x"}
        ),
        PlannedStep(
            alias="more",
            uses="file-write",
            config={"path": "src/README.md", "contents": "!", "overwrite": True},
        ),
    ]
    assert promote(tmp_path, *mess).succeeded
    assert len(parked(tmp_path)) == 1
    moved = remote.commit("moved", {"dev/values.yaml": "tag: v2\n"})

    snapshot = Snapshot()
    result = promote(
        tmp_path,
        clone(remote.url, {"path": "src", "branch": "main"}),
        PlannedStep(alias="look", uses="snapshot", config={"path": "src"}),
        snapshot=snapshot,
    )
    assert result.succeeded, result.message
    assert result.outputs["clone"]["commits"] == {"src": moved}
    assert snapshot.files == {
        "README.md": "hello\n",
        "dev/values.yaml": "tag: v2\n",
        "prod/values.yaml": "tag: v0\n",
    }
    assert len(parked(tmp_path)) == 1


def test_a_kept_checkout_takes_the_new_authors_and_refs(tmp_path: Path, remote: GitRemote) -> None:
    author = {"name": "First", "email": "first@example.com"}
    first = clone(remote.url, {"path": "src", "branch": "main"}, author=author)
    assert promote(tmp_path, first).succeeded
    remote.git("tag", "v1.0.0", "main")

    other = {"name": "Second", "email": "second@example.com"}
    steps = [
        clone(
            remote.url,
            {"path": "env", "branch": "env/dev"},
            {"path": "tagged", "tag": "v1.0.0"},
            {"path": "fresh", "branch": "env/new", "create": True},
            author=other,
        ),
        PlannedStep(
            alias="write",
            uses="file-write",
            config={"path": "env/env.txt", "contents": "x\n", "overwrite": True},
        ),
        PlannedStep(alias="commit", uses="git-commit", config={"path": "env", "message": "m"}),
        PlannedStep(alias="push", uses="git-push", config={"path": "env"}),
    ]
    result = promote(tmp_path, *steps)
    assert result.succeeded, result.message
    assert remote.git("log", "-1", "--format=%an <%ae>", "env/dev") == (
        "Second <second@example.com>"
    )
    assert remote.git("ls-tree", "--name-only", "env/dev") == "env.txt"
    assert remote.git("ls-tree", "--name-only", "env/new") == ""
    assert result.outputs["clone"]["commits"]["tagged"] == remote.rev("main")


def test_sparse_checkouts_are_made_afresh_and_not_kept(tmp_path: Path, remote: GitRemote) -> None:
    assert promote(tmp_path, clone(remote.url, {"path": "src"})).succeeded
    sparse = clone(remote.url, {"path": "src", "sparse": ["dev"]})
    snapshot = Snapshot()
    result = promote(
        tmp_path,
        sparse,
        PlannedStep(alias="look", uses="snapshot", config={"path": "src"}),
        snapshot=snapshot,
    )
    assert result.succeeded, result.message
    # Cone mode keeps the top-level files and the named directories.
    assert sorted(snapshot.files) == ["README.md", "dev/values.yaml"]
    assert len(parked(tmp_path)) == 1  # only the plain checkout


def test_at_most_a_few_checkouts_are_kept_per_repository(tmp_path: Path, remote: GitRemote) -> None:
    many = [{"path": f"src{i}"} for i in range(6)]
    assert promote(tmp_path, clone(remote.url, *many)).succeeded
    assert len(parked(tmp_path)) == 4


def test_a_checkout_left_mid_rebase_is_not_reused(tmp_path: Path, remote: GitRemote) -> None:
    assert promote(tmp_path, clone(remote.url, {"path": "src"})).succeeded
    [kept] = parked(tmp_path)
    (kept / ".git" / "rebase-merge").mkdir()
    pool = CheckoutPool(kept.parent)
    target = tmp_path / "elsewhere"
    assert not pool.take(target)
    assert not kept.exists()
    result = promote(tmp_path, clone(remote.url, {"path": "src"}))
    assert result.succeeded, result.message
    assert git(parked(tmp_path)[0], "status", "--porcelain") == ""
