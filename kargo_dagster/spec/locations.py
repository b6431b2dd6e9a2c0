"""YAML documents with the line of every key and list item.

ruamel.yaml's round-trip loader records where each key and item starts. This module turns a
file into plain Python data (dicts, lists, str, int, float, bool, None) plus an index from
field paths (``("spec", "requestedFreight", 0, "origin")``) to 1-based lines, so that a
pydantic error ``loc`` or a cross-check can point at the exact line.
"""

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from kargo_dagster.errors import ManifestProblem

__all__ = ["Document", "FieldPath", "read_documents"]

FieldPath = tuple[str | int, ...]


class _StringTimestamps(RoundTripConstructor):
    """Keeps unquoted timestamps as text, as Kubernetes' YAML-to-JSON conversion does."""


_StringTimestamps.add_constructor(
    "tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str
)


@dataclass(frozen=True)
class Document:
    """One YAML document of a manifest file.

    Attributes:
        file: The file, as given to the loader.
        line: 1-based line of the document's first key.
        data: The document as plain Python data.
        lines: Line of each key and list item, by field path.
    """

    file: str
    line: int
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int:
        """The line of ``path``, or of its nearest ancestor present in the document."""
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            path = path[:-1]
        return self.line


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _StringTimestamps
    return yaml


def read_documents(text: str, file: str) -> tuple[list[Document], list[ManifestProblem]]:
    """Parses every document of a YAML stream, skipping empty ones.

    Args:
        text: The file's content.
        file: The file name to report.

    Returns:
        The documents read before any syntax error, and a problem for that error (the rest
        of the file cannot be read reliably after it).
    """
    documents: list[Document] = []
    problems: list[ManifestProblem] = []
    stream = _yaml().load_all(text)
    while True:
        try:
            raw = next(stream)
        except StopIteration:
            break
        except YAMLError as exc:
            problems.append(_syntax_problem(file, exc))
            break
        if raw is None:
            continue
        lines: dict[FieldPath, int] = {}
        data = _plain(raw, (), lines)
        start = raw.lc.line + 1 if isinstance(raw, CommentedMap | CommentedSeq) else 1
        documents.append(Document(file=file, line=start, data=data, lines=lines))
    return documents, problems


def _syntax_problem(file: str, exc: YAMLError) -> ManifestProblem:
    line = 1
    detail = " ".join(str(exc).split())
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            line = mark.line + 1
        detail = str(exc.problem or exc.context or "unreadable document")
        if exc.problem and exc.context:
            where = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
            detail = f"{exc.problem} ({exc.context}{where})"
    return ManifestProblem(
        file=file,
        line=line,
        kind="",
        name="",
        field="",
        message=f"invalid YAML: {detail}; fix the indentation, quoting or punctuation there",
    )


def _plain(node: Any, path: FieldPath, lines: dict[FieldPath, int]) -> Any:
    if isinstance(node, CommentedMap):
        result: dict[Any, Any] = {}
        for key, value in node.items():
            child = (*path, str(key))
            lines[child] = node.lc.key(key)[0] + 1
            result[_scalar(key)] = _plain(value, child, lines)
        return result
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for index, value in enumerate(node):
            child = (*path, index)
            lines[child] = node.lc.item(index)[0] + 1
            items.append(_plain(value, child, lines))
        return items
    return _scalar(node)


def _scalar(value: Any) -> Any:
    # ruamel wraps scalars in str/int/float subclasses that carry formatting; pydantic and
    # later comparisons want the plain types.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, ScalarBoolean):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value
