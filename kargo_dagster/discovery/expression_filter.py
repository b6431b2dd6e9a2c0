"""A git subscription's ``expressionFilter``: which commits or tags discovery considers.

Kargo compiles the filter as a plain expr-lang expression (no ``${{ }}``, none of Kargo's
own functions, expr's builtins such as ``date()`` and ``hasPrefix()`` included) and runs it
for each candidate with these variables:

- ``NewestFromBranch`` commits: ``id``, ``commitDate`` (the committer date, a time),
  ``author``, ``committer`` (``Name <email>``) and ``subject`` (the message's subject);
- tags: ``tag``, ``id`` (the commit), ``creatorDate``, ``author``, ``committer``,
  ``subject``, ``tagger`` and ``annotation`` (empty for lightweight tags).

A candidate is kept when the result is true; a result that is not a bool counts when its
text is one Go's ``strconv.ParseBool`` accepts (``"true"``, ``1``...), and anything else is
an error, as in Kargo. The filter runs before path filters and before ``discoveryLimit``.
"""

from collections.abc import Mapping
from typing import Any

from kargo_dagster.clients.git.history import CommitInfo, TagInfo
from kargo_dagster.errors import DiscoveryError, ExpressionError
from kargo_dagster.expressions.ast import Node
from kargo_dagster.expressions.evaluator import evaluate_node
from kargo_dagster.expressions.gojson import go_sprint
from kargo_dagster.expressions.parser import parse
from kargo_dagster.expressions.templates import as_go_bool

__all__ = ["ExpressionFilter"]


class ExpressionFilter:
    """A compiled ``expressionFilter``.

    Args:
        text: The expression.

    Raises:
        DiscoveryError: The expression does not parse.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self._node: Node = parse(text)
        except ExpressionError as error:
            raise DiscoveryError(f"expressionFilter: {error}") from None

    def accepts_commit(self, commit: CommitInfo) -> bool:
        """Whether a branch commit passes the filter."""
        variables = {
            "id": commit.id,
            "commitDate": commit.committed_at,
            "author": commit.author,
            "committer": commit.committer,
            "subject": commit.subject,
        }
        return self._accepts(variables, f"commit {commit.id[:7]}")

    def accepts_tag(self, tag: TagInfo) -> bool:
        """Whether a tag passes the filter."""
        variables = {
            "tag": tag.name,
            "id": tag.commit_id,
            "creatorDate": tag.creator_date,
            "author": tag.author,
            "committer": tag.committer,
            "subject": tag.subject,
            "tagger": tag.tagger,
            "annotation": tag.annotation,
        }
        return self._accepts(variables, f"tag {tag.name!r}")

    def _accepts(self, variables: Mapping[str, Any], what: str) -> bool:
        try:
            result = evaluate_node(self.text, self._node, variables)
        except ExpressionError as error:
            raise DiscoveryError(f"expressionFilter: evaluating it for {what}: {error}") from None
        verdict = as_go_bool(result)
        if verdict is None:
            raise DiscoveryError(
                f"expressionFilter: it gave {go_sprint(result)!r} for {what}, which is not a bool"
            )
        return verdict
