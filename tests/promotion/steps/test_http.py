"""``http`` against a real local HTTP server, with Kargo's expression language."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.expressions import evaluate
from kargo_dagster.promotion.engine import PromotionServices, run_promotion
from kargo_dagster.promotion.expansion import PlannedStep
from kargo_dagster.promotion.registry import StepRegistry
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.http_request import STEP, Config, canonical_header
from kargo_dagster.testing.dribbling_server import DribblingServer
from kargo_dagster.testing.loopback import LoopbackServer
from tests.promotion.engine_support import PROMOTION
from tests.promotion.git_support import make_ctx, schema_errors


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Server:
    """Answers each path with its :class:`Route`; records what it was sent."""

    routes: dict[str, Route]
    seen: list[dict] = field(default_factory=list)
    url: str = ""


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            path, _, query = self.path.partition("?")
            server.seen.append(
                {
                    "method": self.command,
                    "path": path,
                    "query": query,
                    "headers": dict(self.headers.items()),
                    "body": self.rfile.read(length),
                }
            )
            route = server.routes.get(path, Route(404, b"not here"))
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(route.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(routes={})
    httpd = LoopbackServer(_handler(state))
    state.url = httpd.url
    try:
        yield state
    finally:
        httpd.close()


def context(tmp_path: Path) -> StepContext:
    return replace(make_ctx(tmp_path), evaluate=evaluate)


def json_route(payload, status: int = 200, headers: dict[str, str] | None = None) -> Route:
    body = json.dumps(payload).encode()
    return Route(status, body, {"Content-Type": "application/json", **(headers or {})})


def run(tmp_path: Path, **config):
    return STEP.run(context(tmp_path), Config.model_validate(config))


@pytest.mark.parametrize(
    ("config", "errors"),
    [
        ({}, [("", "'url' is a required property")]),
        (
            {"url": "u", "method": "FETCH"},
            [("method", "'FETCH' does not match '^(DELETE|GET|HEAD|PATCH|POST|PUT)$'")],
        ),
        (
            {"url": "u", "headers": [{"name": "a"}]},
            [("headers/0", "'value' is a required property")],
        ),
        (
            {"url": "u", "timeout": "soon"},
            [("timeout", "'soon' does not match '(?:\\\\d+(ns|us|µs|ms|s|m|h))+'")],
        ),
        (
            {"url": "u", "outputs": [{"name": "x"}]},
            [("outputs/0", "'fromExpression' is a required property")],
        ),
        (
            {"url": "u", "proxy": "socks5://p"},
            [("proxy", "'socks5://p' does not match '^https?://.*$'")],
        ),
    ],
)
def test_invalid_configs(config, errors):
    assert schema_errors("http", config) == errors


def test_without_expressions_2xx_succeeds_and_outputs_are_computed(tmp_path, server):
    server.routes["/status"] = json_route({"state": "ready", "count": 3}, headers={"X-Build": "42"})
    outputs = run(
        tmp_path,
        url=f"{server.url}/status",
        outputs=[
            {"name": "state", "fromExpression": "response.body.state"},
            {"name": "count", "fromExpression": "response.body.count + 1"},
            {"name": "status", "fromExpression": "response.status"},
            {"name": "build", "fromExpression": "response.header('x-build')"},
            {"name": "builds", "fromExpression": "response.headers['X-Build']"},
            {"name": "none", "fromExpression": "response.header('X-Missing')"},
        ],
    )
    assert outputs == {
        "state": "ready",
        "count": 4,
        "status": 200,
        "build": "42",
        "builds": ["42"],
        "none": "",
    }


def test_without_expressions_non_2xx_is_polled_again(tmp_path, server):
    server.routes["/down"] = Route(503, b"busy")
    with pytest.raises(
        RetryableStepError, match=r"HTTP \(503\) response is not a success"
    ) as caught:
        run(tmp_path, url=f"{server.url}/down", pollInterval="15s")
    assert caught.value.retry_after == 15


def test_sends_method_headers_query_and_body(tmp_path, server):
    server.routes["/hook"] = Route(204)
    run(
        tmp_path,
        url=f"{server.url}/hook?z=1&a=0",
        method="POST",
        headers=[{"name": "Authorization", "value": "Bearer abc"}, {"name": "X-Two", "value": "2"}],
        queryParams=[{"name": "stage", "value": "dev env"}, {"name": "a", "value": "9"}],
        body='{"promoted": true}',
    )
    seen = server.seen[-1]
    assert seen["method"] == "POST"
    assert seen["query"] == "a=0&a=9&stage=dev+env&z=1"  # Go's Values.Encode: sorted by name
    assert seen["headers"]["Authorization"] == "Bearer abc"
    assert seen["headers"]["X-Two"] == "2"
    assert seen["body"] == b'{"promoted": true}'


@pytest.mark.parametrize(
    ("route", "success", "failure", "expected"),
    [
        (json_route({"phase": "Done"}), "response.body.phase == 'Done'", "", "succeeded"),
        (json_route({"phase": "Running"}), "response.body.phase == 'Done'", "", "running"),
        (json_route({"phase": "Running"}), "", "response.body.phase == 'Failed'", "running"),
        (
            json_route({"phase": "Failed"}),
            "response.body.phase == 'Done'",
            "response.body.phase == 'Failed'",
            "failed",
        ),
        # Failure wins when both are met.
        (
            json_route({"phase": "Done"}, 500),
            "response.body.phase == 'Done'",
            "response.status >= 500",
            "failed",
        ),
        # With a success expression a 500 is not a failure by itself.
        (json_route({"phase": "Done"}, 500), "response.body.phase == 'Done'", "", "succeeded"),
    ],
)
def test_success_and_failure_expressions(tmp_path, server, route, success, failure, expected):
    server.routes["/job"] = route
    config = {"url": f"{server.url}/job", "pollInterval": "5s"}
    if success:
        config["successExpression"] = success
    if failure:
        config["failureExpression"] = failure
    if expected == "succeeded":
        assert run(tmp_path, **config) == {}
    elif expected == "running":
        with pytest.raises(RetryableStepError, match="neither success nor failure") as caught:
            run(tmp_path, **config)
        assert caught.value.retry_after == 5
    else:
        with pytest.raises(TerminalStepError, match="met failure criteria"):
            run(tmp_path, **config)


def test_poll_interval_defaults_to_30_seconds(tmp_path, server):
    server.routes["/job"] = json_route({"phase": "Running"})
    with pytest.raises(RetryableStepError) as caught:
        run(tmp_path, url=f"{server.url}/job", successExpression="response.body.phase == 'Done'")
    assert caught.value.retry_after == 30


def test_error_expression_explains_the_failure(tmp_path, server):
    server.routes["/job"] = json_route({"error": "quota exceeded"}, 400)
    with pytest.raises(
        TerminalStepError, match=r'HTTP \(400\) response met failure criteria: "quota exceeded"'
    ):
        run(
            tmp_path,
            url=f"{server.url}/job",
            failureExpression="response.status == 400",
            errorExpression="response.body.error",
        )


@pytest.mark.parametrize(
    ("route", "content_type", "expected"),
    [
        (
            Route(200, b"plain words", {"Content-Type": "text/plain; charset=utf-8"}),
            None,
            "plain words",
        ),
        (
            Route(200, b"a: 1\nb: [x]\n", {"Content-Type": "application/yaml"}),
            None,
            {"a": 1, "b": ["x"]},
        ),
        (Route(200, b'{"a": 1}', {"Content-Type": "application/octet-stream"}), None, {"a": 1}),
        (Route(200, b"not json", {"Content-Type": "application/octet-stream"}), None, {}),
        (Route(200, b"", {}), None, {}),
        (Route(200, b"k: v\n", {"Content-Type": "text/plain"}), "application/yaml", {"k": "v"}),
    ],
)
def test_body_parsing(tmp_path, server, route, content_type, expected):
    server.routes["/body"] = route
    config = {
        "url": f"{server.url}/body",
        "outputs": [{"name": "body", "fromExpression": "response.body"}],
    }
    if content_type:
        config["responseContentType"] = content_type
    assert run(tmp_path, **config) == {"body": expected}


def test_invalid_json_declared_as_json_is_an_error(tmp_path, server):
    server.routes["/bad"] = Route(200, b"{oops", {"Content-Type": "application/json"})
    with pytest.raises(RetryableStepError, match="failed to parse JSON response"):
        run(tmp_path, url=f"{server.url}/bad")


def test_an_expression_that_does_not_parse_fails_before_sending(tmp_path, server):
    with pytest.raises(TerminalStepError, match="error compiling expression"):
        run(tmp_path, url=f"{server.url}/x", successExpression="response.status ==")
    assert server.seen == []


def test_a_non_boolean_success_expression_is_an_error(tmp_path, server):
    server.routes["/x"] = json_route({})
    with pytest.raises(RetryableStepError, match="did not evaluate to a boolean"):
        run(tmp_path, url=f"{server.url}/x", successExpression="response.status")


def test_an_unreachable_server_is_retryable_and_names_the_url_without_credentials(tmp_path, server):
    port = server.url.rsplit(":", 1)[1]
    with pytest.raises(RetryableStepError) as caught:
        run(tmp_path, url=f"http://user:s3cr3t@127.0.0.1:1/x{port}", timeout="2s")
    assert "s3cr3t" not in str(caught.value)
    assert "error sending HTTP request to http://user:xxxxx@127.0.0.1:1/" in str(caught.value)


def test_link_local_addresses_are_refused(tmp_path):
    with pytest.raises(RetryableStepError, match="link-local"):
        run(tmp_path, url="http://169.254.169.254/latest/meta-data/", timeout="2s")


def test_oversized_responses_are_refused(tmp_path, server):
    server.routes["/big"] = Route(200, b"x" * ((2 << 20) + 1), {"Content-Type": "text/plain"})
    with pytest.raises(RetryableStepError, match="exceeds limit"):
        run(tmp_path, url=f"{server.url}/big")


@pytest.mark.parametrize(
    ("name", "canonical"),
    [("content-type", "Content-Type"), ("X-GITHUB-EVENT", "X-Github-Event"), ("etag", "Etag")],
)
def test_header_names_are_canonical_like_gos(name, canonical):
    assert canonical_header(name) == canonical


def test_the_timeout_bounds_the_whole_request_however_steadily_the_server_answers(tmp_path):
    # One byte every half second never trips a read timeout; Kargo's timeout is the whole
    # request's, as Go's http.Client.Timeout is.
    with DribblingServer(interval=0.5, duration=60.0, phase="headers") as dribbling:
        with pytest.raises(RetryableStepError, match=r"exceeded its deadline \(2 s\)"):
            run(tmp_path, url=f"{dribbling.url}/slow", timeout="2s")


def test_a_step_attempt_ends_within_its_budget_naming_the_step(tmp_path):
    # The request's own timeout is a minute; the step's budget is two seconds.
    with DribblingServer(interval=0.5, duration=60.0, phase="headers") as dribbling:
        result = run_promotion(
            steps=[
                PlannedStep(
                    alias="call",
                    uses="http",
                    config={"url": f"{dribbling.url}/slow", "timeout": "60s"},
                )
            ],
            registry=StepRegistry([STEP]),
            promotion=PROMOTION,
            stage_vars=[],
            template_vars=[],
            services=PromotionServices(attempt_budget_seconds=2),
            work_root=tmp_path,
        )
    [call] = result.steps
    assert call.status == "Errored"
    assert "exceeded the budget of step 'call' (http) (2 s)" in (call.message or "")
