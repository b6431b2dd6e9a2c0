"""``http-download``: download a URL to a file in the work directory.

As Kargo's ``http-download``: a ``GET`` with ``headers`` and ``queryParams`` (added to the
URL's own, encoded sorted by name), redirects followed, ``insecureSkipTLSVerify``, and a
``timeout`` for the whole download (default 5 minutes); addresses that resolve only to
link-local IPs (cloud metadata services) are refused. An existing file at ``outPath`` is an
error unless ``allowOverwrite`` is set. A response other than 2xx is an error the engine
retries; a body over 100 MiB (declared or received) fails the step. The file is written
through a temporary file beside it, so an interrupted download leaves nothing.

Messages name the URL without its query string and with any credentials masked, and header
values (tokens, API keys) never appear in them. No outputs.
"""

import httpx
from pydantic import Field

from kargo_dagster.clients.deadlines import DeadlineClient
from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.download_target import output_path, write_atomically
from kargo_dagster.promotion.outbound_http import refuse_link_local, step_timeout, with_query
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.http_request import Header, QueryParam
from kargo_dagster.promotion.steps.schema_types import Duration
from kargo_dagster.redaction import header_secrets, mask_secrets, redact_text

__all__ = ["DEFAULT_TIMEOUT", "MAX_DOWNLOAD_BYTES", "STEP", "Config", "HTTPDownload"]

DEFAULT_TIMEOUT = 300.0
MAX_DOWNLOAD_BYTES = 100 << 20


class Config(StepConfig):
    """``http-download``'s configuration."""

    url: str = Field(min_length=1)
    out_path: str = Field(min_length=1)
    allow_overwrite: bool = False
    headers: list[Header] | None = None
    query_params: list[QueryParam] | None = None
    insecure_skip_tls_verify: bool = False
    timeout: Duration | None = None


class HTTPDownload(StepKind[Config]):
    """Download a file over HTTP(S)."""

    name = "http-download"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Download ``url`` to ``outPath``; no outputs."""
        timeout = step_timeout(config.timeout, DEFAULT_TIMEOUT)
        target = output_path(ctx, config.out_path, config.allow_overwrite)
        secrets = [s for h in config.headers or () for s in header_secrets(h.value)]
        shown = redact_text(config.url.split("?", 1)[0])

        def masked(text: str) -> str:
            return mask_secrets(text, secrets)

        try:
            with DeadlineClient(
                deadline=timeout,
                verify=not config.insecure_skip_tls_verify,
                timeout=timeout,
                follow_redirects=True,
                event_hooks={"request": [refuse_link_local]},
            ) as client:
                request = client.build_request(
                    "GET",
                    with_query(config.url, [(p.name, p.value) for p in config.query_params or ()]),
                    headers=[(h.name, h.value) for h in config.headers or ()],
                )
                response = client.send(request, stream=True)
                try:
                    _check(response, shown)
                    size = write_atomically(target, response.iter_bytes(), MAX_DOWNLOAD_BYTES)
                finally:
                    response.close()
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as error:
            raise TerminalStepError(
                f"error building HTTP request to {shown}: {masked(str(error))}"
            ) from error
        except httpx.HTTPError as error:
            raise RetryableStepError(
                f"error downloading {shown}: {masked(str(error) or type(error).__name__)}"
            ) from error
        ctx.log.debug(f"downloaded {size} bytes from {shown} to {config.out_path}")
        return {}


def _check(response: httpx.Response, shown: str) -> None:
    status = response.status_code
    if not 200 <= status < 300:
        raise RetryableStepError(f"HTTP request to {shown} failed with status {status}")
    try:
        declared = int(response.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_DOWNLOAD_BYTES:
        raise TerminalStepError(f"download exceeds limit of {MAX_DOWNLOAD_BYTES} bytes")


STEP = HTTPDownload()
