"""The ``web`` metric provider: one HTTP request per measurement, as Argo Rollouts makes it.

:class:`WebMetricProvider` measures the ``provider.web`` of an AnalysisTemplate metric
(``metricproviders/webmetric/webmetric.go``) for kargo-dagster's own analysis executor:

* ``url``; ``method`` (default ``GET``); ``headers`` as ``[{key, value}]`` (a later key
  replaces an earlier one); ``body`` (text) or ``jsonBody`` (any JSON, sent with
  ``Content-Type: application/json``), only with ``POST`` or ``PUT`` and not both;
  ``timeoutSeconds`` (default 10), for each whole request, body included, as Go's
  ``http.Client.Timeout`` bounds it (the OAuth2 token request has as long again);
  ``insecure`` (no TLS verification); redirects are followed;
* ``authentication.oauth2`` (``tokenUrl``, ``clientId``, ``clientSecret``, ``scopes``): a
  client-credentials token is fetched for each measurement and sent as a bearer token;
* a JSON answer is narrowed by ``jsonPath`` (default ``{$}``, the whole document) and the
  first value it selects is the measurement's ``result``, its JSON the ``value``; an answer
  that is not JSON is judged as text, unless a ``jsonPath`` was given, which is an ``Error``;
* an answer outside 2xx, a request that cannot be made or times out, and a ``jsonPath``
  selecting nothing are ``Error`` measurements naming the problem.

The provider does not judge the value: it returns it with phase ``""`` and the executor
applies the metric's ``successCondition``/``failureCondition``. Messages show the URL
without its query and with credentials masked; header values, the OAuth2 client secret and
the token never appear in them.

JSONPath: the subset Argo Rollouts users write, in Kubernetes' ``{...}`` form: ``{$}``,
``{$.a.b}``, ``{.a.b}``, ``{$.a[0].b}``, ``{$.a[-1]}``, ``{$['a-b']}``, ``{$.items[*].x}``,
``{$.a.*}``. Filters, slices and recursive descent are refused with an ``Error``.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from kargo_dagster.clients.deadlines import DeadlineClient, RequestDeadlineExceeded
from kargo_dagster.clients.http_clients import USER_AGENT
from kargo_dagster.redaction import basic_auth_secrets, header_secrets, mask_secrets, redact_text

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "WebMeasurement", "WebMetricProvider", "select_json_path"]

DEFAULT_TIMEOUT_SECONDS = 10.0

_NAME = re.compile(r"[A-Za-z0-9_\-$@]+")
_INDEX = re.compile(r"-?[0-9]+")
# Secrets shorter than this are not masked inside messages: masking "a" would garble them.
_MIN_MASKED = 4


@dataclass(frozen=True)
class WebMeasurement:
    """What one request found, in the shape the analysis executor reads.

    Attributes:
        phase: ``""`` when the request answered (the executor judges ``result``), or
            ``Error``.
        value: The answer's text when it is not JSON; empty for a selected JSON value,
            which the executor writes as JSON.
        message: What went wrong, for an ``Error``.
        metadata: Always empty; kept for the executor's interface.
        result: The selected value, for the metric's conditions.
    """

    phase: str
    value: str = ""
    message: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    result: Any = None


class _Refused(Exception):
    """A measurement that ends in ``Error``; the message is already safe to show."""


class WebMetricProvider:
    """Takes ``web`` metric measurements with httpx.

    Args:
        transport: The httpx transport to send requests through (default: the network).
    """

    def __init__(self, *, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport

    def measure(self, metric: Mapping[str, Any]) -> WebMeasurement:
        """Make the metric's request once and return the value its ``jsonPath`` selects.

        Args:
            metric: The metric, arguments substituted; ``provider.web`` is read.

        Returns:
            The value with phase ``""``, or an ``Error`` measurement saying why there is none.
        """
        provider = metric.get("provider")
        web = provider.get("web") if isinstance(provider, Mapping) else None
        if not isinstance(web, Mapping):
            return WebMeasurement(phase="Error", message="the metric has no provider.web")
        secrets = _secrets(web)
        try:
            return self._measure(web, secrets)
        except _Refused as refused:
            return WebMeasurement(phase="Error", message=mask_secrets(str(refused), secrets))

    def _measure(self, web: Mapping[str, Any], secrets: list[str]) -> WebMeasurement:
        url = web.get("url")
        if not isinstance(url, str) or not url:
            raise _Refused("provider.web.url is not set")
        method = str(web.get("method") or "GET").upper()
        body, json_body = web.get("body"), web.get("jsonBody")
        if body and json_body is not None:
            raise _Refused("use either body or jsonBody; both cannot exist for a web metric")
        if (body or json_body is not None) and method == "GET":
            raise _Refused("body/jsonBody can only be used with the POST or PUT methods")
        headers = httpx.Headers({"User-Agent": USER_AGENT})
        for header in web.get("headers") or []:
            if isinstance(header, Mapping) and header.get("key"):
                headers[str(header["key"])] = str(header.get("value") or "")
        content: str | None = str(body) if body else None
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False)
            headers["Content-Type"] = "application/json"
        seconds = web.get("timeoutSeconds")
        timeout = (
            float(seconds)
            if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0
            else DEFAULT_TIMEOUT_SECONDS
        )
        where = f"{method} {_shown(url)}"
        try:
            with DeadlineClient(
                deadline=timeout,
                transport=self._transport,
                verify=not web.get("insecure"),
                timeout=timeout,
                follow_redirects=True,
            ) as client:
                oauth2 = (web.get("authentication") or {}).get("oauth2")
                if isinstance(oauth2, Mapping) and oauth2.get("tokenUrl"):
                    token = _oauth2_token(client, oauth2)
                    secrets.append(token)  # sent from here on, so masked from here on
                    headers["Authorization"] = f"Bearer {token}"
                response = client.request(method, url, headers=headers, content=content)
        except RequestDeadlineExceeded as error:
            raise _Refused(f"request timed out: {error}") from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
            raise _Refused(f"{where} failed: {_describe(error)}") from error
        if not 200 <= response.status_code < 300:
            raise _Refused(f"received non 2xx response code: {response.status_code} from {where}")
        return _judge(response, web.get("jsonPath"))


def _judge(response: httpx.Response, json_path: Any) -> WebMeasurement:
    try:
        document = json.loads(response.content, parse_constant=_reject_constant)
    except ValueError:
        if json_path:
            raise _Refused(
                f"the response is not JSON, so jsonPath {json_path} cannot select from it"
            ) from None
        # As Argo Rollouts: an answer that is not JSON is judged as its text.
        text = response.text
        return WebMeasurement(phase="", value=text, result=text)
    try:
        found = select_json_path(document, str(json_path or "{$}"))
    except ValueError as error:
        raise _Refused(f"could not find JSONPath {json_path} in body: {error}") from None
    if not found:
        raise _Refused("result of web metric produced no value")
    # The executor writes the value as Go's JSON, as Argo Rollouts records it.
    return WebMeasurement(phase="", result=found[0])


def _reject_constant(name: str) -> Any:
    # Go's encoding/json has no NaN or Infinity.
    raise ValueError(f"invalid JSON constant {name}")


def _oauth2_token(client: httpx.Client, oauth2: Mapping[str, Any]) -> str:
    token_url = str(oauth2["tokenUrl"])
    client_id, secret = oauth2.get("clientId"), oauth2.get("clientSecret")
    if not client_id or not secret:
        raise _Refused("missing mandatory parameter in metric for OAuth2 setup")
    form = {"grant_type": "client_credentials"}
    scopes = oauth2.get("scopes")
    if isinstance(scopes, Sequence) and not isinstance(scopes, str) and scopes:
        form["scope"] = " ".join(str(s) for s in scopes)
    where = f"the OAuth2 token endpoint {_shown(token_url)}"
    # Like Go's oauth2 package: credentials in a Basic header, then in the form if refused.
    response = client.post(token_url, data=form, auth=(str(client_id), str(secret)))
    if response.status_code in (400, 401):
        with_credentials = {**form, "client_id": str(client_id), "client_secret": str(secret)}
        response = client.post(token_url, data=with_credentials)
    if not 200 <= response.status_code < 300:
        raise _Refused(f"{where} answered HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        answer = dict(httpx.QueryParams(response.text))
    token = answer.get("access_token") if isinstance(answer, Mapping) else None
    if not isinstance(token, str) or not token:
        raise _Refused(f"{where} answered without an access_token")
    return token


def _shown(url: str) -> str:
    # The query may carry an API key; the credentials in the authority are masked.
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an invalid URL)"
    return redact_text(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))


def _describe(error: Exception) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, httpx.TimeoutException):
        return f"timed out ({text})"
    return redact_text(text)


def _secrets(web: Mapping[str, Any]) -> list[str]:
    values = [
        secret
        for header in web.get("headers") or []
        if isinstance(header, Mapping)
        for secret in _header_secrets(header)
    ]
    authentication = web.get("authentication")
    oauth2 = authentication.get("oauth2") if isinstance(authentication, Mapping) else None
    if isinstance(oauth2, Mapping):
        client_id, secret = str(oauth2.get("clientId") or ""), str(oauth2.get("clientSecret") or "")
        # The token request sends the secret in a Basic header, then in the form.
        values += [secret, *basic_auth_secrets(client_id, secret)]
    return [v for v in values if len(v) >= _MIN_MASKED]


def _header_secrets(header: Mapping[str, Any]) -> tuple[str, ...]:
    # Every header value may be a key; an Authorization value also carries its credentials
    # alone (the token after "Bearer"), which a server may echo without the scheme.
    value = str(header.get("value") or "")
    if str(header.get("key") or "").lower() in ("authorization", "proxy-authorization"):
        return header_secrets(value)
    return (value,)


# --- JSONPath ----------------------------------------------------------------------------


def _steps(path: str) -> list[tuple[str, Any]]:
    text = path.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError("write the path in braces, e.g. {$.data.value}")
    rest = text[1:-1].strip()
    rest = rest.removeprefix("$")
    steps: list[tuple[str, Any]] = []
    while rest:
        if rest.startswith(".."):
            raise ValueError("recursive descent (..) is not supported")
        if rest.startswith(".*"):
            steps.append(("all", None))
            rest = rest[2:]
        elif rest.startswith("."):
            match = _NAME.match(rest, 1)
            if match is None:
                raise ValueError(f"unexpected {rest!r}")
            steps.append(("key", match.group()))
            rest = rest[match.end() :]
        elif rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                raise ValueError("unterminated [")
            inner, rest = rest[1:end].strip(), rest[end + 1 :]
            if inner == "*":
                steps.append(("all", None))
            elif _INDEX.fullmatch(inner):
                steps.append(("index", int(inner)))
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                steps.append(("key", inner[1:-1]))
            else:
                raise ValueError(f"[{inner}] is not supported (filters and slices are not)")
        else:
            raise ValueError(f"unexpected {rest!r}")
    return steps


def _step(value: Any, kind: str, argument: Any) -> list[Any]:
    if kind == "all":
        if isinstance(value, Mapping):
            return [value[k] for k in sorted(value)]
        return list(value) if isinstance(value, list) else []
    if kind == "index":
        if not isinstance(value, list):
            raise ValueError(f"cannot index {type(value).__name__} with [{argument}]")
        index = argument + len(value) if argument < 0 else argument
        if not 0 <= index < len(value):
            raise ValueError(f"array index out of bounds: index {argument}, length {len(value)}")
        return [value[index]]
    if not isinstance(value, Mapping) or argument not in value:
        raise ValueError(f"{argument} is not found")
    return [value[argument]]


def select_json_path(document: Any, path: str) -> list[Any]:
    """The values ``path`` selects in ``document``, in document order.

    Args:
        document: Decoded JSON.
        path: A JSONPath of the subset in the module docstring, in braces.

    Raises:
        ValueError: The path is not in the subset, or names a key or index that is absent.

    Examples:
        >>> select_json_path({"data": {"items": [{"x": 1}, {"x": 2}]}}, "{$.data.items[*].x}")
        [1, 2]
    """
    found = [document]
    for kind, argument in _steps(path):
        found = [child for value in found for child in _step(value, kind, argument)]
    return found
