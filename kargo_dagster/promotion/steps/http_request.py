"""``http``: send an HTTP request and judge the response with expressions.

(The module is ``http_request`` so that it does not shadow Python's ``http`` package.)

As Kargo's ``http`` step:

* ``method`` (default GET), ``headers``, ``queryParams`` (added to the URL's own, the query
  re-encoded sorted by name as Go's ``url.Values.Encode`` does), ``body``, ``timeout``
  (default 10s), ``proxy``, ``insecureSkipTLSVerify``; redirects are followed; addresses that
  resolve only to link-local IPs (169.254.0.0/16, fe80::/10, cloud metadata services) are
  refused;
* the expressions see ``response``: ``status`` (int), ``headers`` (canonical name → list of
  values), ``header(name)`` (the first value, any case; ``""`` when absent) and ``body``: the
  parsed JSON (or YAML, or text, from ``Content-Type`` or ``responseContentType``), ``{}``
  when the body is empty or unparseable under an unknown type; at most 2 MiB is read;
* ``failureExpression`` true → terminal failure (with ``errorExpression``'s text, if any);
  ``successExpression`` true → success with ``outputs``; neither expression set → success
  on 2xx; otherwise (an expression set but not met, or no expression and not 2xx) the step
  is still running: :class:`~kargo_dagster.errors.RetryableStepError` with ``retry_after``
  ``pollInterval`` (default 30s), until it succeeds or its ``retry.timeout`` passes;
* an expression that does not parse fails the step; one that cannot be evaluated, or a
  success/failure expression that is not a boolean, is a retryable error.
"""

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import yaml
from pydantic import Field

from kargo_dagster.clients.deadlines import DeadlineClient
from kargo_dagster.errors import ExpressionError, RetryableStepError, TerminalStepError
from kargo_dagster.expressions.parser import parse
from kargo_dagster.promotion.outbound_http import refuse_link_local, step_timeout, with_query
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.git.open_pr import poll_interval, still_running
from kargo_dagster.promotion.steps.schema_types import Duration
from kargo_dagster.redaction import redact_text

__all__ = ["STEP", "Config", "HTTPRequest", "canonical_header", "response_variables"]

MAX_RESPONSE_BYTES = 2 << 20
DEFAULT_TIMEOUT = 10.0
DEFAULT_POLL_INTERVAL = 30.0

_JSON = "application/json"
_YAML = ("application/yaml", "text/yaml", "application/x-yaml")
_TEXT = "text/plain"


class Header(StepConfig):
    """One request header."""

    name: str = Field(min_length=1)
    value: str = Field(min_length=1)


class QueryParam(StepConfig):
    """One query parameter."""

    name: str = Field(min_length=1)
    value: str = Field(min_length=1)


class Output(StepConfig):
    """One output, computed from the response."""

    name: str = Field(min_length=1)
    from_expression: str = Field(min_length=1)


class Config(StepConfig):
    """``http``'s configuration."""

    url: str = Field(min_length=1)
    method: str | None = Field(default=None, pattern=r"^(DELETE|GET|HEAD|PATCH|POST|PUT)$")
    headers: list[Header] | None = None
    query_params: list[QueryParam] | None = None
    body: str | None = None
    insecure_skip_tls_verify: bool = False
    proxy: str | None = Field(default=None, pattern=r"^https?://.*$")
    timeout: Duration | None = None
    poll_interval: Duration | None = None
    response_content_type: str | None = Field(
        default=None, pattern=r"^(application/json|application/yaml|text/plain)$"
    )
    outputs: list[Output] | None = None
    success_expression: str | None = None
    failure_expression: str | None = None
    error_expression: str | None = None


def canonical_header(name: str) -> str:
    """A header name as Go's ``CanonicalMIMEHeaderKey`` writes it (``Content-Type``)."""
    if not name or any(not (c.isalnum() or c in "-!#$%&'*+.^_`|~") for c in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _parse_body(content: bytes, content_type: str) -> Any:
    if not content:
        return {}
    lowered = content_type.lower()
    if lowered in _YAML:
        try:
            return yaml.safe_load(content)
        except yaml.YAMLError as error:
            raise RetryableStepError(f"failed to parse YAML response: {error}") from error
    if lowered == _TEXT:
        return content.decode(errors="replace")
    try:
        return json.loads(content)
    except ValueError as error:
        if lowered == _JSON:
            raise RetryableStepError(f"failed to parse JSON response: {error}") from error
        # An unrecognised type that is not JSON either: the body is left out.
        return {}


def response_variables(response: httpx.Response, content: bytes, content_type: str) -> dict:
    """What expressions see as ``response``."""
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        headers.setdefault(canonical_header(name), []).append(value)

    def header(name: str) -> str:
        values = headers.get(canonical_header(str(name)))
        return values[0] if values else ""

    media = content_type or _media_type(response.headers.get("Content-Type", ""))
    return {
        "status": response.status_code,
        "headers": headers,
        "header": header,
        "body": _parse_body(content, media),
    }


class HTTPRequest(StepKind[Config]):
    """Send an HTTP request; succeed, fail or keep polling depending on the response."""

    name = "http"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Send the request once and judge the response."""
        expressions = [
            config.success_expression,
            config.failure_expression,
            config.error_expression,
            *(o.from_expression for o in config.outputs or ()),
        ]
        for expression in expressions:
            if expression:
                _compile(expression)
        interval = poll_interval(config.poll_interval, DEFAULT_POLL_INTERVAL)
        response, content = self._send(config)
        variables = response_variables(response, content, config.response_content_type or "")
        env = {"response": variables}

        def evaluate(expression: str) -> Any:
            return _evaluate(ctx, expression, env)

        success = _criterion(evaluate, config.success_expression, "success")
        failure = _criterion(evaluate, config.failure_expression, "failure")
        status = response.status_code
        if failure:
            message = _error_message(ctx, evaluate, config.error_expression)
            suffix = f": {json.dumps(message)}" if message else ""
            raise TerminalStepError(f"HTTP ({status}) response met failure criteria{suffix}")
        if success or (success is None and failure is None and 200 <= status < 300):
            return {o.name: evaluate(o.from_expression) for o in config.outputs or ()}
        if success is None and failure is None:
            # Kargo reports Failed without an error here, which its engine treats like
            # Running: the request is sent again until it succeeds or the step times out.
            raise still_running(f"HTTP ({status}) response is not a success (2xx)", interval)
        raise still_running(
            f"HTTP ({status}) response met neither success nor failure criteria yet", interval
        )

    def _send(self, config: Config) -> tuple[httpx.Response, bytes]:
        timeout = step_timeout(config.timeout, DEFAULT_TIMEOUT)
        url = with_query(config.url, [(p.name, p.value) for p in config.query_params or ()])
        shown = redact_text(config.url)
        try:
            # Kargo's timeout bounds the whole request, as Go's http.Client.Timeout does.
            with DeadlineClient(
                deadline=timeout,
                verify=not config.insecure_skip_tls_verify,
                timeout=timeout,
                proxy=config.proxy,
                follow_redirects=True,
                event_hooks={"request": [refuse_link_local]},
            ) as client:
                request = client.build_request(
                    config.method or "GET",
                    url,
                    headers=[(h.name, h.value) for h in config.headers or ()],
                    content=config.body.encode() if config.body else None,
                )
                response = client.send(request, stream=True)
                try:
                    declared = int(response.headers.get("Content-Length") or 0)
                    if declared > MAX_RESPONSE_BYTES:
                        raise RetryableStepError(
                            f"response body size {declared} exceeds limit of "
                            f"{MAX_RESPONSE_BYTES} bytes"
                        )
                    content = b""
                    for chunk in response.iter_bytes():
                        content += chunk
                        if len(content) > MAX_RESPONSE_BYTES:
                            raise RetryableStepError(
                                f"response body exceeds limit of {MAX_RESPONSE_BYTES} bytes"
                            )
                finally:
                    response.close()
        except httpx.InvalidURL as error:
            raise TerminalStepError(f"error building HTTP request to {shown}: {error}") from error
        except httpx.HTTPError as error:
            raise RetryableStepError(
                f"error sending HTTP request to {shown}: {redact_text(str(error))}"
            ) from error
        except ValueError as error:
            raise TerminalStepError(f"error building HTTP request to {shown}: {error}") from error
        return response, content


def _compile(expression: str) -> None:
    try:
        parse(expression)
    except ExpressionError as error:
        raise TerminalStepError(f"error compiling expression: {error}") from error


def _evaluate(ctx: StepContext, expression: str, env: Mapping[str, Any]) -> Any:
    try:
        return ctx.evaluate(expression, env)
    except ExpressionError as error:
        raise RetryableStepError(f"error evaluating expression: {error}") from error


def _criterion(evaluate: Callable[[str], Any], expression: str | None, what: str) -> bool | None:
    if not expression:
        return None
    value = evaluate(expression)
    if not isinstance(value, bool):
        raise RetryableStepError(
            f"{what} expression {expression!r} did not evaluate to a boolean "
            f"(got {type(value).__name__})"
        )
    return value


def _error_message(ctx: StepContext, evaluate: Callable[[str], Any], expression: str | None) -> str:
    if not expression:
        return ""
    try:
        value = evaluate(expression)
    except RetryableStepError as error:
        # Best effort: the response may not have the shape the expression expects.
        ctx.log.debug(f"errorExpression could not be evaluated: {error}")
        return ""
    return value if isinstance(value, str) else ""


STEP = HTTPRequest()
