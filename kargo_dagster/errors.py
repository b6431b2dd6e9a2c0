"""Every exception kargo-dagster raises.

The tree::

    KargoDagsterError
    ├── ManifestError            bad Kargo manifests; carries one ManifestProblem per mistake
    ├── FreightError             artifacts that cannot form Freight (none, or malformed)
    │   └── FreightAliasError    an alias that is malformed or another Freight's
    ├── PromotionRefusedError    the requested Freight is not available to the Stage
    ├── CredentialsError         credential configuration that cannot be used
    ├── DiscoveryError           a subscription could not be read (registry, Helm repo, git)
    │   └── RepositoryError      the repository answered badly or not at all; may be retried
    │       └── GitProviderError a pull-request API refused or failed (clients.pull_requests)
    ├── ArtifactError            an OCI artifact that cannot be copied or downloaded as asked
    ├── ExpressionError          a ${{ }} expression that does not parse or evaluate
    ├── ResourceDataError        a ConfigMap or Secret an expression reads cannot be read
    ├── VerificationError        a Stage's verification cannot become an AnalysisRun
    ├── ArgoCDError              Argo CD, or the API in front of it, refused or failed
    ├── WebhookRefusedError      a webhook request that is unsigned, forged or unreadable
    ├── InstanceError            the Dagster instance's storage cannot be read
    │                            (clients.argocd_applications; 409 and missing apps below it)
    └── StepError                a promotion step failed; the engine sees only these two:
        ├── TerminalStepError    will not succeed by retrying (bad config, Failed outcome)
        └── RetryableStepError   may succeed later (network, conflicts); carries a delay
            └── StepPendingError the step is waiting (a PR to merge, a poll); not an error

The client errors live beside their clients, which turn them into step errors for the
engine. Callers catch ``KargoDagsterError`` to handle anything this library reports.
Messages never contain credentials: values that may be secret are not interpolated into them.
"""

from dataclasses import dataclass

from kargo_dagster.redaction import redact_text


class KargoDagsterError(Exception):
    """Root of every error kargo-dagster raises."""


@dataclass(frozen=True)
class ManifestProblem:
    """One mistake in one manifest, located as precisely as the YAML allows.

    Attributes:
        file: The manifest file, as given to the loader (relative paths stay relative).
        line: 1-based line of the offending field, or of the document when the field is absent.
        kind: The object's ``kind`` (``Stage``), or ``""`` when the document has none.
        name: The object's ``metadata.name``, or ``""`` when it has none.
        field: Dotted field path inside the object (``spec.requestedFreight.0.origin.name``),
            or ``""`` for the object as a whole.
        message: What is wrong and what to write instead.
    """

    file: str
    line: int
    kind: str
    name: str
    field: str
    message: str

    def __post_init__(self) -> None:
        # Messages quote the values they reject; a repository URL may carry credentials.
        object.__setattr__(self, "message", redact_text(self.message))

    def __str__(self) -> str:
        subject = f"{self.kind}/{self.name}" if self.kind or self.name else "(document)"
        field = f" {self.field}:" if self.field else ""
        return f"{self.file}:{self.line}: {subject}:{field} {self.message}"


class ManifestError(KargoDagsterError):
    """The manifests cannot be loaded; ``problems`` lists every mistake found, in file order."""

    def __init__(self, problems: list[ManifestProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.field))
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the Kargo manifests"
        super().__init__("\n".join([header, *(str(p) for p in self.problems)]))


class FreightError(KargoDagsterError):
    """Artifacts that cannot make up Freight."""


class FreightAliasError(FreightError):
    """An alias Freight cannot take: malformed, or held by another Freight of the Project."""


class PromotionRefusedError(KargoDagsterError):
    """The Freight is not available to the Stage; the message says what would make it so."""


class CredentialsError(KargoDagsterError):
    """Credential rules that cannot be used; the message names the setting, never its value."""


class DiscoveryError(KargoDagsterError):
    """A Warehouse subscription could not be discovered; the message names the subscription."""


class ArtifactError(KargoDagsterError):
    """An OCI artifact that cannot be copied or downloaded as asked: an unsupported media
    type, no layer of the requested type, or more bytes than allowed. Retrying cannot help."""


class RepositoryError(DiscoveryError):
    """A registry, Helm repository or git remote failed (unreachable, refused, malformed).

    Attributes:
        retry_after: Seconds the server asked to wait (HTTP 429 ``Retry-After``), if any.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ExpressionError(KargoDagsterError):
    """An expression that does not parse or cannot be evaluated.

    Attributes:
        expression: The expression text (without ``${{ }}``).
        position: 0-based offset in ``expression`` where the problem is, if known.
        where: What held the expression (``step 'update' config.path``), filled in by callers.
    """

    def __init__(
        self, message: str, *, expression: str = "", position: int | None = None, where: str = ""
    ) -> None:
        self.message = message
        self.expression = expression
        self.position = position
        self.where = where
        super().__init__(self._render())

    def _render(self) -> str:
        located = f" at position {self.position}" if self.position is not None else ""
        quoted = f" in expression {self.expression!r}" if self.expression else ""
        prefix = f"{self.where}: " if self.where else ""
        return f"{prefix}{self.message}{located}{quoted}"

    def located(self, where: str) -> "ExpressionError":
        """The same error, saying which step and field held the expression."""
        return ExpressionError(
            self.message, expression=self.expression, position=self.position, where=where
        )


class ResourceDataError(KargoDagsterError):
    """A ConfigMap or Secret that ``configMap()``, ``secret()`` or their shared forms read
    could not be read (not: was not found); the message names the object, never its data."""


class StepError(KargoDagsterError):
    """A promotion step did not succeed."""


class TerminalStepError(StepError):
    """The step failed and retrying will not help (Kargo's terminal error)."""


class RetryableStepError(StepError):
    """The step hit a transient problem; the engine may run it again after ``retry_after``."""

    def __init__(self, message: str, *, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StepPendingError(RetryableStepError):
    """The step is waiting for something outside (Kargo's Running): ask again after
    ``retry_after``. Waiting does not count towards the step's error threshold, only towards
    its timeout."""


class InstanceError(KargoDagsterError):
    """The Dagster instance's storage cannot be read: its database is unreachable or too slow,
    or it is not a storage kargo-dagster reads. The message names the instance (never a
    password)."""

    def __init__(self, message: str) -> None:
        super().__init__(redact_text(message))


class WebhookRefusedError(KargoDagsterError):
    """A webhook request is refused: unsigned, forged, of an unsupported kind or unreadable.

    ``status`` is the HTTP status Kargo answers such a request with (400, 401, 403, 501).
    The message is the reason the sender is told and the log records; it never quotes the
    secret, the signature or the request's token.
    """

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(redact_text(message))


class VerificationError(KargoDagsterError):
    """A Stage's verification cannot be turned into an AnalysisRun.

    The message names the Project, the Stage and what is wrong (a missing template, a metric
    defined twice, an argument nobody sets). Argument values are never quoted, since a
    Stage arg may come from a Secret.
    """

    def __init__(self, message: str) -> None:
        super().__init__(redact_text(message))
