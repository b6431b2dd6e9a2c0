"""untar: real archives, plain and gzip'd, friendly and hostile."""

import io
import os
import tarfile
from pathlib import Path
from typing import Any, Literal

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.untar import MAX_FILE_BYTES, STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors

Entry = tuple[str, Any]  # (name, bytes for a file | ("dir",) | ("sym", target) | ...)


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"outPath": "out"}, "", "'inPath' is a required property"),
        ({"inPath": "a.tar"}, "", "'outPath' is a required property"),
        ({"inPath": "a.tar", "outPath": "o", "stripComponents": -1}, "stripComponents", "-1"),
        ({"inPath": "a.tar", "outPath": "o", "ignore": ""}, "ignore", "should be non-empty"),
        ({"inPath": "a.tar", "outPath": "o", "mode": 1}, "", "'mode' was unexpected"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("untar", config)
    assert any(where == path and message in text for where, text in errors), errors


def _archive(path: Path, entries: list[Entry], compression: str = "") -> None:
    mode: Literal["w", "w:gz"] = "w:gz" if compression else "w"
    with tarfile.open(path, mode) as archive:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if isinstance(content, bytes):
                info.size = len(content)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(content))
                continue
            kind = content[0]
            info.type = {
                "dir": tarfile.DIRTYPE,
                "sym": tarfile.SYMTYPE,
                "hard": tarfile.LNKTYPE,
                "chr": tarfile.CHRTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[kind]
            if kind in ("sym", "hard"):
                info.linkname = content[1]
            archive.addfile(info)


def _files(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[relative] = "-> " + os.readlink(path)
        elif path.is_file():
            found[relative] = path.read_text()
    return found


@pytest.fixture
def ctx(tmp_path: Path) -> StepContext:
    return make_ctx(tmp_path)


def _run(ctx: StepContext, **config: Any) -> None:
    STEP.run(ctx, Config.model_validate(config))


@pytest.mark.parametrize("compression", ["", "gz"])
def test_extracts_a_chart_archive_stripping_its_top_directory(
    ctx: StepContext, compression: str
) -> None:
    _archive(
        ctx.work_dir / "chart.tgz",
        [
            ("app/", ("dir",)),
            ("app/Chart.yaml", b"name: app\n"),
            ("app/templates/deploy.yaml", b"kind: Deployment\n"),
            ("app/values.yaml", b"replicas: 1\n"),
        ],
        compression,
    )
    _run(ctx, inPath="chart.tgz", outPath="charts/app", stripComponents=1)

    out = ctx.work_dir / "charts/app"
    assert _files(out) == {
        "Chart.yaml": "name: app\n",
        "templates/deploy.yaml": "kind: Deployment\n",
        "values.yaml": "replicas: 1\n",
    }
    assert (out / "Chart.yaml").stat().st_mtime == 1_700_000_000
    assert oct((out / "Chart.yaml").stat().st_mode & 0o777) == oct(0o644)


def test_replaces_what_out_path_held_and_leaves_no_staging_directory(ctx: StepContext) -> None:
    (ctx.work_dir / "out").mkdir()
    (ctx.work_dir / "out/stale.yaml").write_text("old")
    _archive(ctx.work_dir / "a.tar", [("./new.yaml", b"new")])

    _run(ctx, inPath="a.tar", outPath="out")

    assert _files(ctx.work_dir / "out") == {"new.yaml": "new"}
    assert sorted(p.name for p in ctx.work_dir.iterdir()) == ["a.tar", "out"]


def test_ignore_rules_and_git_directories_are_left_out(ctx: StepContext) -> None:
    _archive(
        ctx.work_dir / "a.tar",
        [
            ("keep.yaml", b"k"),
            ("notes.md", b"n"),
            ("docs/guide.md", b"g"),
            ("tmp/x", b"x"),
            ("src/.git/HEAD", b"ref"),
        ],
    )
    _run(ctx, inPath="a.tar", outPath="out", ignore="*.md\n# comment\ntmp/\n")

    assert _files(ctx.work_dir / "out") == {"keep.yaml": "k"}


def test_links_inside_the_archive_are_kept(ctx: StepContext) -> None:
    _archive(
        ctx.work_dir / "a.tar",
        [
            ("base/values.yaml", b"v"),
            ("overlay/values.yaml", ("sym", "../base/values.yaml")),
            ("copy.yaml", ("hard", "base/values.yaml")),
        ],
    )
    _run(ctx, inPath="a.tar", outPath="out")

    assert _files(ctx.work_dir / "out") == {
        "base/values.yaml": "v",
        "copy.yaml": "v",
        "overlay/values.yaml": "-> ../base/values.yaml",
    }


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("../evil", b"x")], "entry '../evil' leaves the output directory ('..')"),
        ([("a/../../evil", b"x")], "entry 'a/../../evil' leaves the output directory ('..')"),
        ([("/etc/evil", b"x")], "entry '/etc/evil' has an absolute path"),
        (
            [("link", ("sym", "/etc/passwd"))],
            "entry 'link' is a link to an absolute path ('/etc/passwd')",
        ),
        (
            [("link", ("sym", "../../outside"))],
            "entry 'link' is a link that leaves the output directory ('../../outside')",
        ),
        (
            [("link", ("hard", "/etc/passwd"))],
            "entry 'link' is a hard link outside the archive ('/etc/passwd')",
        ),
        (
            [("link", ("hard", "../outside"))],
            "entry 'link' is a hard link outside the archive ('../outside')",
        ),
        ([("tty", ("chr",))], "entry 'tty' is a device file or FIFO"),
        ([("pipe", ("fifo",))], "entry 'pipe' is a device file or FIFO"),
        # Each link points inside on its own; together "x" resolves above the output.
        (
            [("x", ("sym", "q/..")), ("q", ("sym", ".")), ("x/evil", b"x")],
            "entry 'x/evil' would be written through a link that leaves it",
        ),
        (
            [("x", ("sym", "q/..")), ("q", ("sym", "."))],
            "entry 'x' is a link that leaves the output directory",
        ),
    ],
)
def test_hostile_archives_are_refused_and_nothing_is_written(
    tmp_path: Path, ctx: StepContext, entries: list[Entry], message: str
) -> None:
    (ctx.work_dir / "out").mkdir()
    (ctx.work_dir / "out/kept.yaml").write_text("kept")
    _archive(ctx.work_dir / "a.tar", entries)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    with pytest.raises(TerminalStepError) as caught:
        _run(ctx, inPath="a.tar", outPath="out")

    assert str(caught.value) == f"refusing to extract 'a.tar': {message}"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_file_over_the_size_limit_aborts_the_extraction(ctx: StepContext) -> None:
    path = ctx.work_dir / "big.tar"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("big.bin")
        info.size = MAX_FILE_BYTES + 1
        archive.addfile(info, io.BytesIO(bytes(info.size)))

    with pytest.raises(TerminalStepError, match=r"file 'big\.bin' exceeds the size limit"):
        _run(ctx, inPath="big.tar", outPath="out")
    assert not (ctx.work_dir / "out").exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"inPath": "missing.tar", "outPath": "out"}, "tar file 'missing.tar' does not exist"),
        ({"inPath": "a.tar", "outPath": "."}, "outPath must name a directory inside the work"),
        ({"inPath": "a.tar", "outPath": "../out"}, "path '../out' leaves the promotion's work"),
        ({"inPath": "notes.txt", "outPath": "out"}, "failed to read tar file 'notes.txt'"),
    ],
)
def test_bad_paths_and_files_are_reported(
    ctx: StepContext, config: dict[str, Any], message: str
) -> None:
    _archive(ctx.work_dir / "a.tar", [("a", b"a")])
    (ctx.work_dir / "notes.txt").write_text("not an archive")

    with pytest.raises(TerminalStepError, match=message):
        _run(ctx, **config)
