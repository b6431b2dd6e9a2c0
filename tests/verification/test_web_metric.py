"""The ``web`` metric provider against a real HTTP server on loopback."""

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from kargo_dagster.testing.loopback import LoopbackServer, QuietHandler
from kargo_dagster.verification.analysis_executor import execute_analysis
from kargo_dagster.verification.analysis_result import VerificationPhase, verification_result
from kargo_dagster.verification.web_metric import WebMetricProvider, select_json_path

TOKEN = "s3cr3t-token-value"


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """What the server answers: a status, a body (JSON unless bytes) and a delay."""

    body: Any = None
    status: int = 200
    delay: float = 0.0
    content_type: str = "application/json"


@dataclass
class MetricsServer:
    """A loopback server answering each path from ``routes``; records every request."""

    routes: dict[str, Callable[[Received], Answer]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def answer(self, path: str, answer: Answer | Callable[[Received], Answer]) -> None:
        self.routes[path] = answer if callable(answer) else (lambda _: answer)


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    state = MetricsServer()
    lock = threading.Lock()

    class Handler(QuietHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            with lock:
                state.received.append(request)
            route = state.routes.get(self.path.split("?")[0])
            answer = route(request) if route else Answer({"error": "no route"}, status=404)
            time.sleep(answer.delay)
            body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body)
            payload = body.encode() if isinstance(body, str) else body
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout test)

        do_GET = do_POST = do_PUT = _serve

    loopback = LoopbackServer(Handler)
    state.url = loopback.url
    try:
        yield state
    finally:
        loopback.close()


def web_metric(url: str, name: str = "m", **web: Any) -> dict[str, Any]:
    return {"name": name, "provider": {"web": {"url": url, **web}}}


def analysis(*metrics: Mapping[str, Any], args: list[dict[str, str]] | None = None) -> dict:
    spec: dict[str, Any] = {"metrics": list(metrics)}
    if args:
        spec["args"] = args
    return {"metadata": {"name": "prod.01hx.abc1234", "namespace": "demo"}, "spec": spec}


def run_through_executor(run: dict[str, Any]) -> dict[str, Any]:
    return execute_analysis(run, {"web": WebMetricProvider()}, sleep=lambda _: None)


def test_a_json_answer_is_narrowed_by_json_path_and_judged(server: MetricsServer) -> None:
    server.answer("/api/v1/query", Answer({"data": {"result": [{"value": 0.99}]}}))
    metric = {
        **web_metric(f"{server.url}/api/v1/query?q={{{{args.query}}}}"),
        "successCondition": "result >= 0.95",
    }
    metric["provider"]["web"]["jsonPath"] = "{$.data.result[0].value}"
    run = analysis(metric, args=[{"name": "query", "value": "ratio"}])

    done = run_through_executor(run)

    assert done["status"]["phase"] == "Successful"
    assert done["status"]["metricResults"][0]["measurements"][0]["value"] == "0.99"
    assert server.received[0].path == "/api/v1/query?q=ratio"
    assert server.received[0].method == "GET"
    assert verification_result(done).passed


def test_the_failure_condition_fails_the_run(server: MetricsServer) -> None:
    server.answer("/health", Answer({"status": "DOWN", "checks": [1, 2]}))
    metric = {**web_metric(f"{server.url}/health"), "failureCondition": "result.status == 'DOWN'"}

    done = run_through_executor(analysis(metric))

    assert done["status"]["phase"] == "Failed"
    measurement = done["status"]["metricResults"][0]["measurements"][0]
    assert measurement["value"] == '{"checks":[1,2],"status":"DOWN"}', "Go's JSON: sorted keys"
    assert verification_result(done).phase is VerificationPhase.FAILED


def test_headers_are_sent_and_never_shown(server: MetricsServer) -> None:
    server.answer("/secure", lambda r: Answer({"ok": r.headers.get("x-scope") == "prod"}))
    metric = web_metric(
        f"{server.url}/secure",
        headers=[
            {"key": "Authorization", "value": f"Bearer {TOKEN}"},
            {"key": "X-Scope", "value": "dev"},
            {"key": "x-scope", "value": "prod"},
        ],
    )

    measurement = WebMetricProvider().measure(metric)

    assert measurement.phase == ""
    assert measurement.result == {"ok": True}, "a later header replaces an earlier one"
    assert server.received[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert server.received[0].headers["user-agent"] == "kargo-dagster"


def test_post_sends_the_body_or_the_json_body(server: MetricsServer) -> None:
    server.answer("/q", lambda r: Answer({"echo": r.body.decode()}))
    provider = WebMetricProvider()

    text = provider.measure(web_metric(f"{server.url}/q", method="POST", body="plain text"))
    document = provider.measure(
        web_metric(f"{server.url}/q", method="PUT", jsonBody={"query": "up", "n": 2})
    )

    assert text.result == {"echo": "plain text"}
    assert document.result == {"echo": '{"query":"up","n":2}'}
    assert [r.method for r in server.received] == ["POST", "PUT"]
    assert server.received[1].headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ({"body": "x"}, "body/jsonBody can only be used with the POST or PUT methods"),
        (
            {"method": "POST", "body": "x", "jsonBody": {}},
            "use either body or jsonBody; both cannot exist for a web metric",
        ),
    ],
)
def test_bodies_that_cannot_be_sent_are_errors(
    server: MetricsServer, web: dict[str, Any], message: str
) -> None:
    measurement = WebMetricProvider().measure(web_metric(f"{server.url}/q", **web))

    assert (measurement.phase, measurement.message) == ("Error", message)
    assert server.received == []


def test_a_server_error_is_an_error_naming_the_status(server: MetricsServer) -> None:
    server.answer("/boom", Answer({"error": "internal"}, status=500))
    metric = {
        **web_metric(
            f"{server.url}/boom?api_key={TOKEN}",
            headers=[{"key": "Authorization", "value": f"Bearer {TOKEN}"}],
        ),
        "consecutiveErrorLimit": 0,
    }

    done = run_through_executor(analysis(metric))

    measurement = done["status"]["metricResults"][0]["measurements"][0]
    assert measurement["phase"] == "Error"
    assert measurement["message"] == (
        f"received non 2xx response code: 500 from GET {server.url}/boom"
    )
    assert done["status"]["phase"] == "Error"
    assert TOKEN not in json.dumps(done["status"])


def test_an_unreachable_server_is_an_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://user:{TOKEN}@127.0.0.1:{port}/metrics"

    measurement = WebMetricProvider().measure(web_metric(url))

    assert measurement.phase == "Error"
    assert measurement.message.startswith(f"GET http://user:xxxxx@127.0.0.1:{port}/metrics failed:")
    assert TOKEN not in measurement.message


def test_a_slow_server_times_out(server: MetricsServer) -> None:
    server.answer("/slow", Answer({"ok": True}, delay=1.5))

    measurement = WebMetricProvider().measure(web_metric(f"{server.url}/slow", timeoutSeconds=1))

    assert measurement.phase == "Error"
    assert "timed out" in measurement.message


def test_text_answers_are_judged_as_text_unless_a_json_path_is_given(
    server: MetricsServer,
) -> None:
    server.answer("/text", Answer(b"OK", content_type="text/plain"))
    provider = WebMetricProvider()

    plain = {**web_metric(f"{server.url}/text"), "successCondition": "result == 'OK'"}
    done = run_through_executor(analysis(plain))
    narrowed = provider.measure(web_metric(f"{server.url}/text", jsonPath="{$.status}"))

    assert done["status"]["phase"] == "Successful"
    assert done["status"]["metricResults"][0]["measurements"][0]["value"] == "OK"
    assert narrowed.phase == "Error"
    assert (
        narrowed.message == "the response is not JSON, so jsonPath {$.status} cannot select from it"
    )


def test_a_json_path_that_selects_nothing_is_an_error(server: MetricsServer) -> None:
    server.answer("/doc", Answer({"items": [], "data": {}}))
    provider = WebMetricProvider()

    missing = provider.measure(web_metric(f"{server.url}/doc", jsonPath="{$.data.value}"))
    empty = provider.measure(web_metric(f"{server.url}/doc", jsonPath="{$.items[*].x}"))

    assert (missing.phase, missing.message) == (
        "Error",
        "could not find JSONPath {$.data.value} in body: value is not found",
    )
    assert (empty.phase, empty.message) == ("Error", "result of web metric produced no value")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("{$}", [{"a": {"b": [{"c": 1}, {"c": 2}]}, "d-e": "x"}]),
        ("{$.a.b[0].c}", [1]),
        ("{.a.b[-1].c}", [2]),
        ("{$.a.b[*].c}", [1, 2]),
        ("{$['d-e']}", ["x"]),
        ("{$.d-e}", ["x"]),
        ("{$.a.*}", [[{"c": 1}, {"c": 2}]]),
    ],
)
def test_json_path_subset(path: str, expected: list[Any]) -> None:
    document = {"a": {"b": [{"c": 1}, {"c": 2}]}, "d-e": "x"}

    assert select_json_path(document, path) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("$.a", "write the path in braces"),
        ("{$..c}", "recursive descent"),
        ("{$.a.b[?(@.c==1)]}", "filters and slices are not"),
        ("{$.a.b[5]}", "array index out of bounds: index 5, length 2"),
    ],
)
def test_json_paths_outside_the_subset_are_refused(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        select_json_path({"a": {"b": [{"c": 1}, {"c": 2}]}}, path)


def test_oauth2_client_credentials_become_a_bearer_token(server: MetricsServer) -> None:
    server.answer("/token", Answer({"access_token": "minted-token", "token_type": "bearer"}))
    server.answer(
        "/metric",
        lambda r: Answer({"ok": r.headers.get("authorization") == "Bearer minted-token"}),
    )
    oauth2 = {
        "tokenUrl": f"{server.url}/token",
        "clientId": "kargo",
        "clientSecret": "client-secret-value",
        "scopes": ["metrics.read", "metrics.list"],
    }
    metric = web_metric(f"{server.url}/metric", authentication={"oauth2": oauth2})

    measurement = WebMetricProvider().measure(metric)

    assert measurement.result == {"ok": True}
    token_request = server.received[0]
    assert token_request.body == b"grant_type=client_credentials&scope=metrics.read+metrics.list"
    assert token_request.headers["authorization"].startswith("Basic ")


def test_a_refused_oauth2_token_is_an_error_without_the_secret(server: MetricsServer) -> None:
    server.answer("/token", Answer({"error": "invalid_client"}, status=401))
    oauth2 = {"tokenUrl": f"{server.url}/token", "clientId": "k", "clientSecret": TOKEN}

    measurement = WebMetricProvider().measure(
        web_metric(f"{server.url}/metric", authentication={"oauth2": oauth2})
    )

    assert measurement.phase == "Error"
    assert measurement.message == (
        f"the OAuth2 token endpoint {server.url}/token answered HTTP 401"
    )
    assert len(server.received) == 2, "credentials in the header, then in the form"
    assert TOKEN in server.received[1].body.decode()
    assert all(r.path == "/token" for r in server.received)
