"""Kargo's expression functions (``pkg/expressions/function``) over a Freight collection.

``imageFrom``/``commitFrom``/``chartFrom`` look artifacts up in the Freight being promoted.
Kargo decides which Freight may hold an artifact from the Warehouses' subscriptions; here
the collection itself answers: without an origin, the artifact must come from exactly one
Freight in the collection (several is the same "please disambiguate" error as Kargo's).
Commits match by normalised Git URL, images and charts by the exact repository URL, as in
Kargo. ``artifactFrom(subscriptionName[, origin])`` finds the generic artifacts of generic
subscriptions; Warehouses here have none, so it gives nil as Kargo does when no requested
Warehouse subscribes under that name. ``configMap()``, ``secret()`` and their shared forms
come from :mod:`kargo_dagster.expressions.resource_functions`.
"""

import io
import json
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from ruamel.yaml import YAML

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.expr_builtins import now_in
from kargo_dagster.expressions.gojson import marshal_json
from kargo_dagster.expressions.gotype import go_type
from kargo_dagster.expressions.objects import (
    ChartRef,
    CommitRef,
    FreightOriginRef,
    ImageRef,
    SemverRef,
)
from kargo_dagster.expressions.resource_functions import ResourceLookups
from kargo_dagster.freight import Freight, normalize_git_url
from kargo_dagster.semver import parse_semver


class MetadataSource(Protocol):
    """Where ``stageMetadata()`` and ``freightMetadata()`` read (the promotion's store)."""

    def stage_metadata(self, stage: str) -> dict[str, Any]:
        """The metadata recorded for a Stage."""
        ...

    def freight_metadata(self, freight: str) -> dict[str, Any]:
        """The metadata recorded for a Freight."""
        ...


__all__ = ["TEMPLATE_FUNCTIONS", "as_json", "as_yaml", "kargo_functions", "quote", "unsafe_quote"]

_FAILED = frozenset({"Failed", "Errored"})


def unsafe_quote(value: Any) -> str:
    """``unsafeQuote(v)``: ``v``'s JSON wrapped in double quotes, escapes kept visible."""
    return f'"{marshal_json(value)}"'


def quote(value: Any) -> str:
    """``quote(v)``: a string Go-quoted (``%q``), anything else as ``unsafeQuote``.

    The template coercion then strips the outer quotes, so the value stays a string.
    """
    if isinstance(value, str):
        return _go_quote(value)
    return unsafe_quote(value)


def as_json(value: Any) -> str:
    """``asJSON(v)``: indented JSON with a final newline, quoted so it stays a string."""
    return f'"{marshal_json(value, indent="  ")}\n"'


def as_yaml(value: Any) -> str:
    """``asYAML(v)``: YAML text, quoted so it stays a string.

    Written with 4-space indentation and sorted keys like Go's ``yaml.v3``; exotic
    values (multi-line strings, special floats) may be styled differently.
    """
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.indent(mapping=4, sequence=6, offset=4)
    stream = io.StringIO()
    plain = json.loads(marshal_json(value))
    yaml.dump(plain, stream)
    text = stream.getvalue()
    if isinstance(plain, list):
        # ruamel indents a top-level sequence like a nested one; yaml.v3 does not.
        text = "".join(line.removeprefix("    ") for line in text.splitlines(keepends=True))
    return f'"{text}"'


def _go_quote(text: str) -> str:
    # Go's %q: backslash escapes for quotes, backslash and control characters; printable
    # Unicode is kept as is.
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    escapes |= {"\v": "\\v", '"': '\\"', "\\": "\\\\"}
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x10000:
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x80 else f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


# What Kargo's EvaluateTemplate always provides, whatever the caller's functions.
TEMPLATE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "quote": quote,
    "unsafeQuote": unsafe_quote,
    "asJSON": as_json,
    "asYAML": as_yaml,
}


def string_argument(value: Any, position: str, function: str) -> str:
    """``value`` when it is a string; else the error expr gives for ``function``'s argument."""
    if not isinstance(value, str):
        raise ExpressionError(
            f"{function}: {position} argument must be string, got {go_type(value)}"
        )
    return value


def _origin(value: Any, position: str, function: str) -> str:
    if not isinstance(value, FreightOriginRef):
        raise ExpressionError(
            f"{function}: {position} argument must be FreightOrigin (use warehouse(name)), "
            f"got {go_type(value)}"
        )
    return value.Name


class _Functions:
    def __init__(
        self,
        collection: Mapping[str, Freight],
        statuses: Mapping[str, str],
        continue_on_error: Collection[str],
        metadata: MetadataSource | None,
        now: Callable[[], datetime],
    ) -> None:
        self.collection = collection
        self.statuses = statuses
        self.continue_on_error = continue_on_error
        self.metadata = metadata
        self.now = now

    def find(self, origin: str | None, kind: str, matches: Callable[[Freight], Any]) -> Any:
        """The first match in the origin's Freight, or in the only Freight that has one."""
        if origin is not None:
            freight = self.collection.get(origin)
            return matches(freight) if freight is not None else None
        found = [m for f in self.collection.values() if (m := matches(f)) is not None]
        if len(found) > 1:
            raise ExpressionError(
                f"multiple requested Freight could potentially provide {kind}: please "
                "provide a Freight origin to disambiguate"
            )
        return found[0] if found else None

    def image_from(self, *args: Any) -> ImageRef | None:
        if not 1 <= len(args) <= 2:
            raise ExpressionError(f"imageFrom: expected 1-2 arguments, got {len(args)}")
        url = string_argument(args[0], "first", "imageFrom")
        origin = _origin(args[1], "second", "imageFrom") if len(args) == 2 else None

        def matches(freight: Freight) -> ImageRef | None:
            for image in freight.images:
                if image.repo_url == url:
                    return ImageRef(image.repo_url, image.tag, image.digest, image.annotations)
            return None

        return self.find(origin, f"a container image from repository {url}", matches)

    def commit_from(self, *args: Any) -> CommitRef | None:
        if not 1 <= len(args) <= 2:
            raise ExpressionError(f"commitFrom: expected 1-2 arguments, got {len(args)}")
        url = normalize_git_url(string_argument(args[0], "first", "commitFrom"))
        origin = _origin(args[1], "second", "commitFrom") if len(args) == 2 else None

        def matches(freight: Freight) -> CommitRef | None:
            for c in freight.commits:
                if normalize_git_url(c.repo_url) == url:
                    fields = (c.id, c.branch, c.tag, c.message, c.author, c.committer)
                    return CommitRef(c.repo_url, *fields)
            return None

        return self.find(origin, f"a commit from repo {url}", matches)

    def chart_from(self, *args: Any) -> ChartRef | None:
        if not 1 <= len(args) <= 3:
            raise ExpressionError(f"chartFrom: expected 1-3 arguments, got {len(args)}")
        url = string_argument(args[0], "first", "chartFrom")
        name, origin = "", None
        if len(args) >= 2:
            if isinstance(args[1], str):
                name = args[1]
            else:
                origin = _origin(args[1], "second", "chartFrom")
        if len(args) == 3:
            if not name:
                raise ExpressionError(
                    "chartFrom: when using three arguments, second argument must be string"
                )
            origin = _origin(args[2], "third", "chartFrom")

        def matches(freight: Freight) -> ChartRef | None:
            for chart in freight.charts:
                if chart.repo_url == url and chart.name == name:
                    return ChartRef(chart.repo_url, chart.name, chart.version)
            return None

        found = self.find(origin, f"a chart from repository {url}", matches)
        if found is None and origin is None:
            # Kargo reports a chart nobody provides as an error, not as nil.
            subject = f"chart {name!r}" if name else "chart"
            raise ExpressionError(f"{subject} from repo {url} not found in referenced Freight")
        return found

    def artifact_from(self, *args: Any) -> None:
        if not 1 <= len(args) <= 2:
            raise ExpressionError(f"artifactFrom: expected 1-2 arguments, got {len(args)}")
        string_argument(args[0], "first", "artifactFrom")
        if len(args) == 2:
            _origin(args[1], "second", "artifactFrom")
        # Freight here holds images, commits and charts only: no generic artifact to find.
        return None

    def has_failures(self) -> bool:
        return any(
            status in _FAILED and alias not in self.continue_on_error
            for alias, status in self.statuses.items()
        )

    def status(self, alias: Any) -> str:
        alias = string_argument(alias, "first", "status")
        if not alias:
            raise ExpressionError("status: argument must not be empty")
        return self.statuses.get(alias, "")

    def stage_metadata(self, name: Any) -> dict[str, Any]:
        name = string_argument(name, "first", "stageMetadata")
        if not name:
            raise ExpressionError("stageMetadata: stage name must not be empty")
        return self.metadata.stage_metadata(name) if self.metadata else {}

    def freight_metadata(self, name: Any) -> dict[str, Any]:
        name = string_argument(name, "first", "freightMetadata")
        if not name:
            raise ExpressionError("freightMetadata: freight ref name must not be empty")
        return self.metadata.freight_metadata(name) if self.metadata else {}


def _warehouse(name: Any) -> FreightOriginRef:
    name = string_argument(name, "first", "warehouse")
    if not name:
        raise ExpressionError("warehouse: name must not be empty")
    return FreightOriginRef("Warehouse", name)


def _semver_parse(text: Any) -> SemverRef:
    version = parse_semver(string_argument(text, "first", "semverParse"), strict=False)
    if version is None:
        raise ExpressionError(f"invalid semantic version: {text!r}")
    return SemverRef(version)


def _semver_diff(first: Any, second: Any) -> str:
    left = parse_semver(string_argument(first, "first", "semverDiff"), strict=False)
    right = parse_semver(string_argument(second, "second", "semverDiff"), strict=False)
    if left is None or right is None:
        return "Incomparable"
    # As Kargo: prereleases are not compared, metadata is.
    for label, attr in (("Major", "major"), ("Minor", "minor"), ("Patch", "patch")):
        if getattr(left, attr) != getattr(right, attr):
            return label
    return "Metadata" if left.metadata != right.metadata else "None"


def kargo_functions(
    *,
    collection: Mapping[str, Freight],
    target_origin: str | None = None,
    metadata: MetadataSource | None = None,
    statuses: Mapping[str, str] | None = None,
    project: str = "",
    now: Callable[[], datetime] | None = None,
    continue_on_error: Collection[str] = (),
    resources: ResourceLookups | None = None,
) -> dict[str, Callable[..., Any]]:
    """Kargo's functions, to merge into the variables of :func:`evaluate`.

    Args:
        collection: The Freight being promoted, by Warehouse name.
        target_origin: The Warehouse of the target Freight (kept for callers; lookups
            without an origin search the whole collection, as Kargo does).
        metadata: Where ``stageMetadata()``/``freightMetadata()`` read; empty maps if None.
        statuses: Earlier steps' statuses by alias (``Succeeded``, ``Failed``, ``Errored``,
            ``Skipped``), for ``success()``, ``failure()`` and ``status()``.
        project: The Kargo project (unused by these functions; kept for callers).
        now: The clock for ``now()``; timezone-aware UTC by default.
        continue_on_error: Aliases of steps with ``continueOnError``, whose failures do not
            count for ``success()``/``failure()`` (Kargo's ``HasFailures``).
        resources: Where ``configMap()``, ``secret()`` and their shared forms read; share
            one per promotion so each object is read once. None: every object is absent.
    """
    data_functions = (resources or ResourceLookups(None, project)).functions()
    del target_origin, project
    functions = _Functions(
        collection, statuses or {}, continue_on_error, metadata, now or (lambda: datetime.now(UTC))
    )
    return {
        **TEMPLATE_FUNCTIONS,
        "warehouse": _warehouse,
        "imageFrom": functions.image_from,
        "commitFrom": functions.commit_from,
        "chartFrom": functions.chart_from,
        "artifactFrom": functions.artifact_from,
        **data_functions,
        "success": lambda: not functions.has_failures(),
        "failure": functions.has_failures,
        "always": lambda: True,
        "status": functions.status,
        "semverParse": _semver_parse,
        "semverDiff": _semver_diff,
        "stageMetadata": functions.stage_metadata,
        "freightMetadata": functions.freight_metadata,
        # expr's now() and now(location), read from the given clock.
        "now": lambda *args: now_in(functions.now, *args),
    }
