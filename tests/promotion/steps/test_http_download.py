"""http-download against a real HTTP server on loopback."""

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.builtin import builtin_registry
from kargo_dagster.promotion.engine import run_promotion
from kargo_dagster.promotion.expansion import PlannedStep
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.http_download import MAX_DOWNLOAD_BYTES, STEP, Config
from kargo_dagster.testing.loopback import LoopbackServer, QuietHandler
from tests.promotion.engine_support import PROMOTION
from tests.promotion.git_support import make_ctx, schema_errors

TOKEN = "s3cr3t-t0ken"


class Files(QuietHandler):
    """Serves a few paths; records each request's path and headers."""

    seen: ClassVar[list[tuple[str, dict[str, str]]]] = []
    archive: ClassVar[bytes] = b""

    def do_GET(self) -> None:
        Files.seen.append((self.path, dict(self.headers.items())))
        path = self.path.partition("?")[0]
        if path == "/chart.tgz":
            self._answer(200, b"chart bytes")
        elif path == "/archive.tgz":
            self._answer(200, Files.archive)
        elif path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/chart.tgz")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/private":
            ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
            self._answer(200 if ok else 401, b"private" if ok else b"no")
        elif path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(MAX_DOWNLOAD_BYTES + 1))
            self.end_headers()
        elif path == "/echo":
            # A server that echoes the credentials it was sent in its error page.
            self._answer(500, f"bad token {self.headers.get('Authorization')}".encode())
        else:
            self._answer(404, b"not found")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    Files.seen.clear()
    server = LoopbackServer(Files)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def ctx(tmp_path: Path) -> StepContext:
    return make_ctx(tmp_path)


def _run(ctx: StepContext, **config: Any) -> None:
    STEP.run(ctx, Config.model_validate(config))


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"outPath": "a"}, "", "'url' is a required property"),
        ({"url": "http://x"}, "", "'outPath' is a required property"),
        ({"url": "http://x", "outPath": "a", "timeout": "soon"}, "timeout", "does not match"),
        ({"url": "http://x", "outPath": "a", "headers": [{"name": "A"}]}, "headers/0", "value"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("http-download", config)
    assert any(where == path and message in text for where, text in errors), errors


def test_downloads_with_headers_and_query_params_following_redirects(
    server: LoopbackServer, ctx: StepContext
) -> None:
    _run(
        ctx,
        url=f"{server.url}/moved?b=2",
        outPath="charts/app.tgz",
        headers=[{"name": "X-Trace", "value": "abc"}],
        queryParams=[{"name": "a", "value": "1 2"}],
    )

    assert (ctx.work_dir / "charts/app.tgz").read_bytes() == b"chart bytes"
    assert [path for path, _ in Files.seen] == ["/moved?a=1+2&b=2", "/chart.tgz"]
    assert Files.seen[0][1]["X-Trace"] == "abc"
    assert sorted(p.name for p in (ctx.work_dir / "charts").iterdir()) == ["app.tgz"]


def test_an_existing_file_is_replaced_only_when_allowed(
    server: LoopbackServer, ctx: StepContext
) -> None:
    (ctx.work_dir / "app.tgz").write_text("old")

    with pytest.raises(TerminalStepError) as caught:
        _run(ctx, url=f"{server.url}/chart.tgz", outPath="app.tgz")
    assert str(caught.value) == (
        "file already exists at app.tgz and overwrite is not allowed (set allowOverwrite)"
    )
    assert Files.seen == []

    _run(ctx, url=f"{server.url}/chart.tgz", outPath="app.tgz", allowOverwrite=True)
    assert (ctx.work_dir / "app.tgz").read_bytes() == b"chart bytes"


def test_an_authorization_header_is_sent_and_never_shown(
    server: LoopbackServer, ctx: StepContext
) -> None:
    auth = [{"name": "Authorization", "value": f"Bearer {TOKEN}"}]
    _run(ctx, url=f"{server.url}/private", outPath="p", headers=auth)
    assert (ctx.work_dir / "p").read_bytes() == b"private"

    with pytest.raises(RetryableStepError) as caught:
        _run(ctx, url=f"{server.url}/echo?token={TOKEN}", outPath="e", headers=auth)
    assert str(caught.value) == f"HTTP request to {server.url}/echo failed with status 500"
    assert not (ctx.work_dir / "e").exists()


def test_failures_say_what_failed(server: LoopbackServer, ctx: StepContext) -> None:
    with pytest.raises(RetryableStepError, match=r"/missing failed with status 404$"):
        _run(ctx, url=f"{server.url}/missing", outPath="m")
    with pytest.raises(TerminalStepError, match=f"exceeds limit of {MAX_DOWNLOAD_BYTES} bytes"):
        _run(ctx, url=f"{server.url}/huge", outPath="h")
    with pytest.raises(TerminalStepError, match=r"path '\.\./x' leaves the promotion's work"):
        _run(ctx, url=f"{server.url}/chart.tgz", outPath="../x")
    with pytest.raises(TerminalStepError, match="error building HTTP request to ftp://h/f"):
        _run(ctx, url="ftp://h/f", outPath="f")
    assert sorted(p.name for p in ctx.work_dir.iterdir()) == []


def test_an_unreachable_server_is_retried_with_credentials_masked(ctx: StepContext) -> None:
    closed = LoopbackServer(Files)
    closed.close()

    with pytest.raises(RetryableStepError) as caught:
        _run(ctx, url=f"http://user:{TOKEN}@{closed.host}/f", outPath="f", timeout="2s")

    assert str(caught.value).startswith(f"error downloading http://user:xxxxx@{closed.host}/f: ")
    assert TOKEN not in str(caught.value)


def test_a_promotion_downloads_and_unpacks_a_chart(server: LoopbackServer, tmp_path: Path) -> None:
    chart = io.BytesIO()
    with tarfile.open(fileobj=chart, mode="w:gz") as archive:
        data = b"name: app\n"
        info = tarfile.TarInfo("app/Chart.yaml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    Files.archive = chart.getvalue()
    steps = [
        PlannedStep(
            alias="fetch",
            uses="http-download",
            config={"url": f"{server.url}/archive.tgz", "outPath": "chart.tgz"},
        ),
        PlannedStep(
            alias="unpack",
            uses="untar",
            config={"inPath": "chart.tgz", "outPath": "chart", "stripComponents": 1},
        ),
        PlannedStep(
            alias="read",
            uses="yaml-parse",
            config={
                "path": "chart/Chart.yaml",
                "outputs": [{"name": "chart", "fromExpression": "name"}],
            },
        ),
        PlannedStep(alias="bad", uses="untar", config={"inPath": "chart.tgz", "outPath": ""}),
    ]

    result = run_promotion(
        steps=steps, registry=builtin_registry(), promotion=PROMOTION, work_root=tmp_path
    )

    assert [(s.alias, s.status) for s in result.steps] == [
        ("fetch", "Succeeded"),
        ("unpack", "Succeeded"),
        ("read", "Succeeded"),
        ("bad", "Failed"),
    ]
    assert result.outputs["read"] == {"chart": "app"}
    assert result.message == (
        "step 'bad' (untar): invalid untar config: outPath: '' should be non-empty"
    )
