"""``git-open-pr``: open a pull request from ``sourceBranch`` into ``targetBranch``.

The step answers with ``pr: {id, url}`` (the number and the web page), found in this order
(Kargo's rules from ``git_pr_opener.go``, and where this differs):

1. **The pull request this step already has.** Once the step opened or adopted a pull
   request in a promotion, running it again in the same promotion returns that one, in
   whatever state it is now (open, merged or closed), without asking the provider: as in
   Kargo, it is kept in the promotion's shared state under the step's alias.
2. **A pull request for the same change.** The provider is asked for the pull requests
   from the source branch into the target branch whose head is the source branch's current
   commit: an open one is adopted (the most recently opened first), else a merged one; one
   closed without merging is passed over and a new one opened. Kargo asks only for open
   ones, so its preference for a merged one never applies; asking for merged ones too
   means that a step run again after its pull request was opened and merged (say, by an
   auto-merge while a later call failed) reports it instead of proposing the change twice.
3. **Nothing to propose.** The target branch must exist. When the two branches' trees are
   the same there is nothing to propose and, as in Kargo, the step is Skipped with no
   outputs, with one exception: when the source branch's head is the merge commit (or, for
   a fast-forward, the head) of a pull request already merged into the target branch, the
   change went in through that pull request and it is the answer. Running a promotion again
   for the same Freight after its pull request was merged comes to exactly this:
   ``git-commit`` has nothing to commit, ``git-push`` pushes the target's head to a new
   branch, and without the merged pull request ``git-wait-for-pr`` would have none to wait
   for (in Kargo the promotion fails there: its ``prNumber`` expression finds no output).
4. **A new pull request.** Without ``title``, the first line of the source branch's head
   commit message is the title and the rest the description; ``description`` overrides the
   latter; a link to the Stage in the Dagster UI is appended when its URL is known.

Running a promotion again while its earlier pull request is still open opens a second one
(the new promotion pushes a new commit, often to a new branch), as Kargo does; close the
stale one. ``createTargetBranch`` is accepted and ignored (deprecated in Kargo). The git
credentials' password for ``repoURL`` is the provider API token (for Bitbucket, with a
username other than ``x-token-auth``, an app password or API token of that user). The
provider (GitHub, GitLab, Gitea, Bitbucket Cloud, Azure DevOps) is ``provider`` or inferred
from ``repoURL``'s host, as :mod:`~kargo_dagster.clients.pull_requests.providers` describes. Labels
are ignored on Bitbucket, which has none, and must already exist in a Gitea repository.
"""

import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from kargo_dagster.clients.git.command import GitCommand, git_credentials
from kargo_dagster.clients.pull_requests.providers import (
    GitProvider,
    GitProviderError,
    PullRequest,
    git_provider,
)
from kargo_dagster.errors import (
    RepositoryError,
    RetryableStepError,
    StepError,
    StepPendingError,
    TerminalStepError,
)
from kargo_dagster.promotion.step import (
    Skipped,
    StepConfig,
    StepContext,
    StepKind,
    StepOutput,
)
from kargo_dagster.promotion.steps.schema_types import NonEmpty, Uri
from kargo_dagster.redaction import redact_text
from kargo_dagster.spec.durations import parse_go_duration

__all__ = [
    "SHARED_KEY",
    "STEP",
    "Config",
    "GitOpenPR",
    "ProviderOption",
    "open_provider",
    "poll_interval",
    "provider_step_error",
    "still_running",
]

ProviderOption = Literal["azure", "bitbucket", "gitea", "github", "gitlab"]

# The shared state's key under which the step keeps its pull requests, by step alias.
SHARED_KEY = "git-open-pr"


class Config(StepConfig):
    """``git-open-pr``'s configuration."""

    repo_url: Uri = Field(min_length=1)
    source_branch: str = Field(min_length=1)
    target_branch: str = Field(min_length=1)
    create_target_branch: bool = False
    insecure_skip_tls_verify: bool = False
    provider: ProviderOption | None = None
    title: str | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, min_length=1)
    labels: list[NonEmpty] | None = None


def open_provider(
    ctx: StepContext, repo_url: str, provider: str | None, insecure_skip_tls_verify: bool
) -> GitProvider:
    """The provider client for ``repo_url``, authenticated with its git credentials' password.

    Raises:
        TerminalStepError: The provider cannot be inferred or is not supported.
    """
    credentials = ctx.credentials.lookup("git", repo_url)
    token = credentials.password.get_secret_value() if credentials else ""
    try:
        return git_provider(
            repo_url,
            token=token,
            username=credentials.username if credentials else "",
            name=provider,
            insecure_skip_tls_verify=insecure_skip_tls_verify,
        )
    except GitProviderError as error:
        raise TerminalStepError(str(error)) from error


def provider_step_error(error: GitProviderError, *, terminal: bool = False) -> StepError:
    """The step error for a failed provider call: retryable unless it cannot get better."""
    if terminal:
        return TerminalStepError(str(error))
    return RetryableStepError(str(error), retry_after=error.retry_after or 0.0)


def still_running(message: str, retry_after: float) -> StepPendingError:
    """The error a step raises while it waits (Kargo's Running status): look again later.

    Waiting does not count against the step's error threshold, only its timeout.
    """
    return StepPendingError(message, retry_after=retry_after)


def poll_interval(configured: str | None, default: float) -> float:
    """Seconds until the step should look again: ``pollInterval`` or the step's default."""
    if not configured:
        return default
    parsed = parse_go_duration(configured)
    if parsed is None:
        raise TerminalStepError(f"pollInterval {configured!r} is not a duration")
    return parsed.total_seconds()


def _pr_output(pr: PullRequest) -> StepOutput:
    return {"pr": {"id": pr.number, "url": pr.url}}


def _newest_first(pr: PullRequest) -> float:
    return -(pr.created_at.timestamp() if pr.created_at else 0.0)


def _adoptable(prs: list[PullRequest]) -> PullRequest | None:
    # Open first, then merged, then the rest; the most recently opened first within each.
    def rank(pr: PullRequest) -> tuple[int, float]:
        group = 0 if pr.open else 1 if pr.merged else 2
        return group, _newest_first(pr)

    ranked = sorted(prs, key=rank)
    return ranked[0] if ranked and (ranked[0].open or ranked[0].merged) else None


def _merged_through(prs: list[PullRequest], commit: str, target: str) -> PullRequest | None:
    # A merged pull request into the target whose merge put ``commit`` there.
    merged = [
        pr
        for pr in prs
        if pr.merged
        and pr.base_branch in ("", target)
        and commit in (pr.merge_commit_sha, pr.head_sha)
    ]
    return min(merged, key=_newest_first, default=None)


def _memory(ctx: StepContext) -> dict[str, Any]:
    return ctx.shared.setdefault(SHARED_KEY, {})


def _recall(ctx: StepContext) -> StepOutput | None:
    """The output this step (by alias) already gave in this promotion, when it named a PR."""
    output = _memory(ctx).get(ctx.alias)
    if not isinstance(output, dict):
        return None
    pr = output.get("pr")
    if not isinstance(pr, dict) or not isinstance(pr.get("id"), int):
        return None
    return output


def _remember(ctx: StepContext, output: StepOutput) -> StepOutput:
    _memory(ctx)[ctx.alias] = output
    return output


class _Branches:
    """Just enough of the remote's two branches: head commits, message, trees."""

    def __init__(self, ctx: StepContext, config: Config, git_dir: Path) -> None:
        self.url = config.repo_url
        self.git_dir = git_dir
        self.command = GitCommand(
            repo_label=redact_text(config.repo_url),
            credentials=git_credentials(ctx.credentials, config.repo_url),
            insecure_skip_tls_verify=config.insecure_skip_tls_verify,
            executable=ctx.tools.git,
        )
        self.command.run(["init", "--quiet", "--bare", str(git_dir)], action="preparing")

    def git(self, *args: str, action: str) -> str:
        return self.command.run(list(args), action=action, git_dir=self.git_dir).decode().strip()

    def fetch(self, branch: str) -> None:
        refspec = f"+refs/heads/{branch}:refs/remotes/origin/{branch}"
        self.git("fetch", "--quiet", "--depth=1", "--no-tags", self.url, refspec, action="fetching")

    def exists(self, branch: str) -> bool:
        listed = self.git(
            "ls-remote", "--heads", self.url, f"refs/heads/{branch}", action="listing"
        )
        return bool(listed)


class GitOpenPR(StepKind[Config]):
    """Open (or adopt) a pull request."""

    name = "git-open-pr"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Open the pull request, or find the one there is; outputs ``pr: {id, url}``."""
        recalled = _recall(ctx)
        if recalled is not None:
            ctx.log.info(
                f"step {ctx.alias!r} already has pull request {recalled['pr']['id']} "
                "in this promotion"
            )
            return recalled
        with tempfile.TemporaryDirectory(prefix="kargo-dagster-pr-") as scratch:
            try:
                output = self._run(ctx, config, Path(scratch) / "repo.git")
            except GitProviderError as error:
                raise provider_step_error(error) from error
            except RepositoryError as error:
                raise RetryableStepError(
                    str(error), retry_after=error.retry_after or 0.0
                ) from error
        return output if isinstance(output, Skipped) else _remember(ctx, output)

    def _run(self, ctx: StepContext, config: Config, git_dir: Path) -> StepOutput:
        source, target = config.source_branch, config.target_branch
        branches = _Branches(ctx, config, git_dir)
        branches.fetch(source)
        head = branches.git("rev-parse", f"refs/remotes/origin/{source}", action="reading")
        with open_provider(
            ctx, config.repo_url, config.provider, config.insecure_skip_tls_verify
        ) as provider:
            existing = _adoptable(
                provider.list_pull_requests(
                    head_branch=source, base_branch=target, head_commit=head, state="all"
                )
            )
            if existing is not None:
                state = "open" if existing.open else "merged"
                ctx.log.info(f"adopting {state} pull request {existing.number} ({existing.url})")
                return _pr_output(existing)
            message = branches.git(
                "log", "-1", "--format=%B", f"refs/remotes/origin/{source}", action="reading"
            )
            if not branches.exists(target):
                raise RetryableStepError(f"target branch {target!r} does not exist")
            branches.fetch(target)
            trees = [
                branches.git("rev-parse", f"refs/remotes/origin/{b}^{{tree}}", action="reading")
                for b in (source, target)
            ]
            if trees[0] == trees[1]:
                merged = _merged_through(provider.pull_requests_for_commit(head), head, target)
                if merged is not None:
                    ctx.log.info(
                        f"{source} is already in {target} through pull request "
                        f"{merged.number} ({merged.url})"
                    )
                    return _pr_output(merged)
                return Skipped(f"{source} and {target} do not differ: no pull request to open")
            title, description = self._text(ctx, config, message)
            pr = provider.create_pull_request(
                head=source,
                base=target,
                title=title,
                description=description,
                labels=config.labels or [],
            )
            return _pr_output(pr)

    def _text(self, ctx: StepContext, config: Config, message: str) -> tuple[str, str]:
        title = config.title or ""
        description = config.description or message
        if not title:
            first, newline, rest = message.partition("\n")
            title = first
            if not config.description:
                description = rest if newline else ""
        base = ctx.promotion.ui_base_url.rstrip("/")
        if base:
            project, stage = ctx.promotion.project, ctx.promotion.stage
            description += f"\n\n[View in Dagster]({base}/assets/{project}/stage/{stage})"
        return title, description


STEP = GitOpenPR()
