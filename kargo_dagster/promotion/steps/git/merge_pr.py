"""``git-merge-pr``: merge a pull request.

As in Kargo: an already merged pull request succeeds; one closed without merging, with
conflicts, or whose merge the provider refuses fails for good. One that cannot be merged
*yet* (checks pending, draft, base branch moved) fails too, unless ``wait`` is set: then the
step is still running and looks again after ``pollInterval`` (default 10s). ``mergeMethod``
is the provider's (GitHub: ``merge``, ``squash``, ``rebase``; GitLab: ``merge``,
``squash``; Gitea: ``merge`` (the default), ``rebase``, ``rebase-merge``, ``squash``,
``fast-forward-only``, ``manually-merged``; Bitbucket: ``merge_commit``, ``squash``,
``fast_forward``, ``squash_fast_forward``, ``rebase_fast_forward``, ``rebase_merge``; Azure
DevOps: ``noFastForward``, ``rebase``, ``rebaseMerge``, ``squash``). The output is
``commit``, the merge commit.

Bitbucket tells nothing about a pull request's mergeability before a merge is tried, so
there ``wait`` waits only for drafts, and a merge refused for conflicts or checks fails, as
in Kargo. Azure DevOps completes pull requests in the background: the step waits a few
seconds for the merge, then, if it is not done, reports it not ready yet.
"""

from pydantic import Field

from kargo_dagster.clients.pull_requests.providers import GitProviderError
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

__all__ = ["DEFAULT_POLL_INTERVAL", "STEP", "Config", "GitMergePR"]

DEFAULT_POLL_INTERVAL = 10.0


class Config(StepConfig):
    """``git-merge-pr``'s configuration."""

    repo_url: Uri = Field(min_length=1)
    pr_number: Integer = Field(ge=1)
    provider: ProviderOption | None = None
    insecure_skip_tls_verify: bool = False
    wait: bool = False
    poll_interval: Duration | None = None
    merge_method: str | None = Field(default=None, min_length=1)


class GitMergePR(StepKind[Config]):
    """Merge a pull request."""

    name = "git-merge-pr"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Merge it; outputs ``commit``."""
        interval = poll_interval(config.poll_interval, DEFAULT_POLL_INTERVAL)
        with open_provider(
            ctx, config.repo_url, config.provider, config.insecure_skip_tls_verify
        ) as provider:
            try:
                merged = provider.merge_pull_request(
                    config.pr_number, merge_method=config.merge_method or ""
                )
            except GitProviderError as error:
                # Kargo fails the step on any merge error, transient or not.
                raise provider_step_error(error, terminal=True) from error
        if merged is None:
            if config.wait:
                raise still_running(
                    f"pull request {config.pr_number} is not ready to merge yet", interval
                )
            raise TerminalStepError(
                f"pull request {config.pr_number} is not ready to merge and wait is disabled"
            )
        return {"commit": merged.merge_commit_sha}


STEP = GitMergePR()
