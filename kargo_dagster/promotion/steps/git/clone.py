"""``git-clone``: check out branches, commits or tags of a remote repository.

Each checkout lands in its own directory under the work directory; the output
``commits`` maps each checkout's ``as`` (or its ``path``) to the commit checked out. The
repository is not cloned afresh: see :mod:`kargo_dagster.promotion.steps.git.workspace` for the
clone cached between promotions.

The ``author`` configured here is who commits and tags in the checkouts later
(``git-commit``, ``git-tag``, the initial commit of a created branch); without it, Kargo's
default ``Kargo <no-reply@kargo.io>``. With ``author.signingKey`` (an ASCII-armored GPG
private key without a passphrase) those commits and tags are signed
(:mod:`kargo_dagster.promotion.steps.git.signing`).
"""

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.git.signing import SigningKeyring
from kargo_dagster.promotion.steps.git.workspace import CheckoutRequest, CloneOptions, GitWorkspace
from kargo_dagster.promotion.steps.git.worktree import DEFAULT_AUTHOR, GitIdentity
from kargo_dagster.promotion.steps.schema_types import Email, NonEmpty

__all__ = ["STEP", "Author", "Checkout", "Config", "GitClone", "cache_dir_for"]


class Author(StepConfig):
    """Who commits to the checkouts."""

    name: str = Field(min_length=1)
    email: Email
    signing_key: str | None = None


class Checkout(StepConfig):
    """One thing to check out, and where."""

    path: str = Field(min_length=1)
    branch: str = ""
    commit: str = ""
    tag: str = ""
    create: bool = False
    as_: str = Field("", alias="as")
    # Not strict: JSON arrays come as lists, which strict mode would refuse for a tuple.
    sparse: tuple[NonEmpty, ...] | None = Field(default=None, min_length=1, strict=False)

    @model_validator(mode="after")
    def _one_ref(self) -> "Checkout":
        if sum(bool(ref) for ref in (self.branch, self.commit, self.tag)) > 1:
            raise ValueError("branch, commit and tag are mutually exclusive")
        return self


class Config(StepConfig):
    """``git-clone``'s configuration (``git-clone-config.json``)."""

    repo_url: str = Field(min_length=1)
    checkout: tuple[Checkout, ...] = Field(min_length=1, strict=False)
    author: Author | None = None
    insecure_skip_tls_verify: bool = False
    recurse_submodules: bool = False
    blobless: bool = False


def cache_dir_for(ctx: StepContext) -> Path:
    """Where the cached clones are: the engine's cache, or one inside the work directory."""
    if ctx.git_cache_dir is not None:
        return ctx.git_cache_dir
    return ctx.work_dir / ".kargo-git-cache"


class GitClone(StepKind[Config]):
    """Clones a repository's branches, commits or tags into the work directory."""

    name: ClassVar[str] = "git-clone"
    config_model = Config
    default_timeout: ClassVar[timedelta | None] = None

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Check out every entry of ``checkout``; output ``commits``."""
        identity = DEFAULT_AUTHOR
        signing: tuple[tuple[str, str], ...] = ()
        if config.author is not None:
            identity = GitIdentity(config.author.name, config.author.email)
            if config.author.signing_key:
                keyring = SigningKeyring.import_key(config.author.signing_key)
                # The key lives as long as the promotion: later steps commit and tag with it.
                ctx.defer(keyring.close)
                signing = tuple(keyring.git_settings().items())
        seen: set[str] = set()
        requests: list[CheckoutRequest] = []
        keys: list[str] = []
        for index, checkout in enumerate(config.checkout):
            if checkout.as_:
                if checkout.as_ in seen:
                    raise TerminalStepError(
                        f"duplicate checkout alias {checkout.as_!r} at checkout[{index}]"
                    )
                seen.add(checkout.as_)
            keys.append(checkout.as_ or checkout.path)
            requests.append(
                CheckoutRequest(
                    path=ctx.path(checkout.path),
                    shown_as=checkout.path,
                    branch=checkout.branch,
                    commit=checkout.commit,
                    tag=checkout.tag,
                    create=checkout.create,
                    sparse=checkout.sparse or (),
                )
            )
        workspace = GitWorkspace(cache_dir_for(ctx), ctx.credentials, executable=ctx.tools.git)
        options = CloneOptions(
            repo_url=config.repo_url,
            identity=identity,
            insecure_skip_tls_verify=config.insecure_skip_tls_verify,
            blobless=config.blobless,
            recurse_submodules=config.recurse_submodules,
            signing=signing,
        )
        commits = workspace.check_out(options, requests, defer=ctx.defer)
        return {"commits": dict(zip(keys, commits, strict=True))}


STEP = GitClone()
