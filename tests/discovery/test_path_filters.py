"""Kargo's path selectors: base directories, doublestar globs and regular expressions."""

import pytest

from kargo_dagster.discovery.path_filters import PathFilter, parse_path_selector
from kargo_dagster.discovery.path_globs import compile_glob, is_valid_glob
from kargo_dagster.errors import DiscoveryError


@pytest.mark.parametrize(
    ("selector", "path", "expected"),
    [
        # Base directories (Go filepath.Rel, then "no '..' in the result").
        ("charts/app", "charts/app/values.yaml", True),
        ("charts/app", "charts/app", True),
        ("charts/app", "charts/app/deep/er/file", True),
        ("charts/app", "charts/application/values.yaml", False),
        ("charts/app", "charts/values.yaml", False),
        ("charts/app/", "charts/app/values.yaml", True),
        ("./charts//app", "charts/app/values.yaml", True),
        ("charts/app", "charts/app/../other/file", False),
        ("charts/app", "charts/app/a..b", False),  # Kargo's substring check
        ("", "anything/at/all", True),
        (".", "README.md", True),
        ("/charts", "charts/app", False),  # absolute against relative never matches
        ("README.md", "README.md", True),
        # Globs match the whole path.
        ("glob:*.md", "README.md", True),
        ("glob:*.md", "docs/README.md", False),
        ("glob:**/*.md", "docs/guide/README.md", True),
        ("glob:**/*.md", "README.md", True),
        ("glob:charts/**", "charts", True),
        ("glob:charts/**", "charts/a/b/c", True),
        ("glob:charts/**", "chartsx/a", False),
        ("glob:charts/**/values.yaml", "charts/values.yaml", True),
        ("glob:charts/**/values.yaml", "charts/a/b/values.yaml", True),
        ("glob:charts/**.yaml", "charts/a/values.yaml", False),  # mid-segment ** is *
        ("glob:charts/?pp/*", "charts/app/x", True),
        ("glob:charts/?pp/*", "charts/ap/x", False),
        ("glob:env/[a-c]*/x", "env/beta/x", True),
        ("glob:env/[!a-c]*/x", "env/beta/x", False),
        ("glob:env/[^a-c]*/x", "env/prod/x", True),
        ("glob:{apps,charts}/**/*.{yaml,yml}", "charts/a/v.yml", True),
        ("glob:{apps,charts}/**/*.{yaml,yml}", "docs/a/v.yml", False),
        ("glob:file{,.bak}", "file", True),
        ("glob:file{,.bak}", "file.bak", True),
        ("glob:a\\*b", "a*b", True),
        ("glob:a\\*b", "axb", False),
        ("glob:Charts/*", "charts/x", False),  # case-sensitive
        # Regular expressions match anywhere unless anchored.
        ("regex:values", "charts/app/values.yaml", True),
        ("regex:^values", "charts/app/values.yaml", False),
        ("regexp:\\.ya?ml$", "charts/app/values.yml", True),
    ],
)
def test_selector(selector: str, path: str, expected: bool) -> None:
    assert parse_path_selector(selector).matches(path) is expected


@pytest.mark.parametrize("pattern", ["[", "a[]", "a[!]", "{a,b", "a}", "trailing\\", "x[a-"])
def test_invalid_globs(pattern: str) -> None:
    assert not is_valid_glob(pattern)
    with pytest.raises(ValueError, match="invalid glob"):
        compile_glob(pattern)
    with pytest.raises(DiscoveryError, match="invalid path selector"):
        parse_path_selector(f"glob:{pattern}")


def test_invalid_regex() -> None:
    with pytest.raises(DiscoveryError, match="invalid path selector 'regex:\\(unclosed'"):
        parse_path_selector("regex:(unclosed")


def test_filter_needs_one_included_path_that_is_not_excluded() -> None:
    assert PathFilter.from_selectors([], []) is None
    only_apps = PathFilter.from_selectors(["apps"], ["apps/legacy"])
    assert only_apps is not None
    assert only_apps.accepts(["docs/x", "apps/new/y"])
    assert not only_apps.accepts(["docs/x", "apps/legacy/y"])
    assert not only_apps.accepts([])
    no_docs = PathFilter.from_selectors([], ["docs"])
    assert no_docs is not None
    assert no_docs.accepts(["docs/x", "README.md"])
    assert not no_docs.accepts(["docs/x"])


def test_filter_errors_name_the_field() -> None:
    with pytest.raises(DiscoveryError, match=r"^excludePaths: invalid path selector"):
        PathFilter.from_selectors(["ok"], ["glob:{"])
