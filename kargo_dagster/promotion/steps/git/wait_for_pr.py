"""``git-wait-for-pr``: wait until a pull request is merged.

While the pull request is open the step is still running: it raises
:class:`~kargo_dagster.errors.RetryableStepError` with ``retry_after`` the poll interval
(``pollInterval``, default 30s, as in Kargo). Closed without merging is a terminal failure.
Once merged the outputs are ``pr: {id, url, open, merged}`` and ``commit``, the merge
commit (when the provider reports one).
"""

from pydantic import Field

from kargo_dagster.clients.pull_requests.providers import GitProviderError, PullRequest
from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.git.open_pr import (
    ProviderOption,
    open_provider,
    poll_interval,
    provider_step_error,
    still_running,
)
from kargo_dagster.promotion.steps.schema_types import Duration, Integer, Uri

__all__ = ["DEFAULT_POLL_INTERVAL", "STEP", "Config", "GitWaitForPR", "waiter_output"]

DEFAULT_POLL_INTERVAL = 30.0


class Config(StepConfig):
    """``git-wait-for-pr``'s configuration."""

    repo_url: Uri = Field(min_length=1)
    pr_number: Integer = Field(ge=1)
    insecure_skip_tls_verify: bool = False
    provider: ProviderOption | None = None
    poll_interval: Duration | None = None


def waiter_output(pr: PullRequest) -> StepOutput:
    """Kargo's outputs for a pull request: ``pr`` and, when known, ``commit``."""
    output: StepOutput = {
        "pr": {"id": pr.number, "url": pr.url, "open": pr.open, "merged": pr.merged}
    }
    if pr.merge_commit_sha:
        output["commit"] = pr.merge_commit_sha
    return output


class GitWaitForPR(StepKind[Config]):
    """Wait for a pull request to be merged."""

    name = "git-wait-for-pr"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Look at the pull request once; succeed if merged, wait if open, fail if closed."""
        interval = poll_interval(config.poll_interval, DEFAULT_POLL_INTERVAL)
        with open_provider(
            ctx, config.repo_url, config.provider, config.insecure_skip_tls_verify
        ) as provider:
            try:
                pr = provider.get_pull_request(config.pr_number)
            except GitProviderError as error:
                raise provider_step_error(error) from error
        if pr.open:
            raise still_running(f"pull request {config.pr_number} is still open", interval)
        if not pr.merged:
            raise TerminalStepError(
                f"pull request {config.pr_number} was closed without being merged"
            )
        return waiter_output(pr)


STEP = GitWaitForPR()
