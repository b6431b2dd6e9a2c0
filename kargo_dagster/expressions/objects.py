"""Go values that Kargo's expression functions return, with Go's field and method names.

Expressions reach them as expr reaches Go structs: ``imageFrom(url).Tag`` reads a field,
``semverParse(v).IncMinor().String()`` calls methods. Only the names listed here are
reachable; nothing else of the Python object is.
"""

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from functools import cache
from typing import Any, ClassVar, cast

from kargo_dagster.json_names import go_json_name
from kargo_dagster.semver import Version

__all__ = [
    "ChartRef",
    "CommitRef",
    "DiscoveredCommitRef",
    "DiscoveredImageRef",
    "FreightOriginRef",
    "GoStruct",
    "ImageRef",
    "SemverRef",
]


class GoStruct:
    """Base of the Go-like objects: member access by Go name, JSON by Go's json tags.

    Subclasses are frozen dataclasses whose fields carry Go's names. As in Go, the capitalised
    ones are the exported fields: only they are reachable, and they marshal under the json tag
    Kargo derives from the name (``RepoURL`` as ``repoURL``, all ``omitempty``). ``_methods``
    names callable methods.
    """

    _methods: ClassVar[frozenset[str]] = frozenset()

    def go_member(self, name: str) -> Any:
        """The field or bound method called ``name``.

        Raises:
            KeyError: The struct has no such field or method.
        """
        if name in _json_names(type(self)) or name in self._methods:
            return getattr(self, name)
        raise KeyError(name)

    def go_json(self) -> Any:
        """The struct as Go's ``json.Marshal`` writes it (empty fields omitted)."""
        return {
            key: getattr(self, attr)
            for attr, key in _json_names(type(self)).items()
            if getattr(self, attr) not in ("", None, {})
        }

    def go_field_names(self) -> list[str]:
        """The Go field names, for ``in`` and error messages."""
        return list(_json_names(type(self)))

    def go_type_name(self) -> str:
        """The type's name in error messages."""
        return type(self).__name__

    def go_string(self) -> str | None:
        """What Go's ``fmt`` prints for the value if its type has a ``String()`` method."""
        return None


@cache
def _json_names(struct: type[GoStruct]) -> dict[str, str]:
    """The exported fields of ``struct``, in declaration order, and their json tags."""
    declared = fields(cast("Any", struct))
    return {f.name: go_json_name(f.name) for f in declared if f.name[:1].isupper()}


@dataclass(frozen=True)
class FreightOriginRef(GoStruct):
    """Kargo's ``FreightOrigin``, returned by ``warehouse(name)``."""

    Kind: str
    Name: str


@dataclass(frozen=True)
class ImageRef(GoStruct):
    """Kargo's ``Image`` as ``imageFrom()`` returns it."""

    RepoURL: str
    Tag: str = ""
    Digest: str = ""
    Annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CommitRef(GoStruct):
    """Kargo's ``GitCommit`` as ``commitFrom()`` returns it."""

    RepoURL: str
    ID: str = ""
    Branch: str = ""
    Tag: str = ""
    Message: str = ""
    Author: str = ""
    Committer: str = ""


@dataclass(frozen=True)
class ChartRef(GoStruct):
    """Kargo's ``Chart`` as ``chartFrom()`` returns it."""

    RepoURL: str
    Name: str = ""
    Version: str = ""


@dataclass(frozen=True)
class DiscoveredImageRef(GoStruct):
    """Kargo's ``DiscoveredImageReference``: ``imageFrom()`` in ``freightCreationCriteria``."""

    Tag: str
    Digest: str = ""
    Annotations: dict[str, str] = field(default_factory=dict)
    CreatedAt: datetime | None = None


@dataclass(frozen=True)
class DiscoveredCommitRef(GoStruct):
    """Kargo's ``DiscoveredCommit``: ``commitFrom()`` in ``freightCreationCriteria``."""

    ID: str
    Branch: str = ""
    Tag: str = ""
    Subject: str = ""
    Author: str = ""
    Committer: str = ""
    CreatorDate: datetime | None = None


@dataclass(frozen=True)
class SemverRef(GoStruct):
    """A Masterminds ``*semver.Version``: ``semverParse()``'s result, used through methods.

    Its JSON form is its ``String()``, as Masterminds' ``MarshalJSON`` writes it.
    """

    version: Version
    # Go's method names are the expression API, hence the capitalised methods below.
    _methods: ClassVar[frozenset[str]] = frozenset(
        {
            "Major", "Minor", "Patch", "Prerelease", "Metadata", "Original", "String",
            "IncMajor", "IncMinor", "IncPatch",
        }
    )  # fmt: skip

    def Major(self) -> int:
        return self.version.major

    def Minor(self) -> int:
        return self.version.minor

    def Patch(self) -> int:
        return self.version.patch

    def Prerelease(self) -> str:
        return self.version.prerelease

    def Metadata(self) -> str:
        return self.version.metadata

    def Original(self) -> str:
        return self.version.original

    def String(self) -> str:
        return str(self.version)

    def _bumped(self, **numbers: int) -> "SemverRef":
        # Masterminds drops prerelease and metadata and keeps a leading "v" in Original.
        bumped = replace(self.version, prerelease="", metadata="", **numbers)
        prefix = "v" if self.version.original.startswith("v") else ""
        return SemverRef(replace(bumped, original=prefix + str(bumped)))

    def IncMajor(self) -> "SemverRef":
        return self._bumped(major=self.version.major + 1, minor=0, patch=0)

    def IncMinor(self) -> "SemverRef":
        return self._bumped(minor=self.version.minor + 1, patch=0)

    def IncPatch(self) -> "SemverRef":
        # A prerelease of x.y.z is bumped to x.y.z itself.
        patch = self.version.patch if self.version.prerelease else self.version.patch + 1
        return self._bumped(patch=patch)

    def go_json(self) -> Any:
        """Masterminds marshals a version as its ``String()``."""
        return str(self.version)

    def go_string(self) -> str:
        """``fmt`` prints a version with its ``String()``."""
        return str(self.version)

    def go_field_names(self) -> list[str]:
        """A ``*semver.Version`` exposes no fields, only methods."""
        return []
