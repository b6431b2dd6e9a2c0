"""helm-update-chart with the real helm from .tools/bin against real chart repositories.

Classic repositories are served by :class:`ChartRepository` (HTTP, or HTTPS with a
certificate made for the test and trusted through ``SSL_CERT_FILE``); OCI charts are pushed to
a local docker-registry behind a token-authenticating front.
"""

import base64
import logging
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pydantic import SecretStr

from kargo_dagster.credentials import (
    NO_CREDENTIALS,
    CredentialRule,
    Credentials,
    CredentialStore,
    StaticCredentialStore,
)
from kargo_dagster.errors import RetryableStepError, StepError, TerminalStepError
from kargo_dagster.promotion.builtin import builtin_registry
from kargo_dagster.promotion.schema_validation import validate_step_config
from kargo_dagster.promotion.step import StepContext, StepOutput, ToolPaths
from kargo_dagster.promotion.steps.helm.update_chart import Config
from kargo_dagster.testing.oci_push import push_chart
from kargo_dagster.testing.registry import LocalRegistry
from kargo_dagster.testing.token_auth import TokenAuthRegistry
from tests.promotion.git_support import make_ctx, schema_errors, write
from tests.promotion.steps.chart_repository import ChartRepository, self_signed_certificate

TOOLS = Path(__file__).parents[3] / ".tools" / "bin"
PASSWORD = "s3cret-helm-pass"
TOKEN_PASSWORD = "s3cret-oci-pass"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where temporary directories go during the test, to see that none is left behind."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that helm trusts (Go reads roots from SSL_CERT_FILE)."""
    directory = tmp_path / "tls"
    directory.mkdir()
    cert, key = self_signed_certificate(directory)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    """A docker-registry holding chart ``charts/lib`` in versions 1.0.0, 1.2.0 and 2.0.0."""
    with LocalRegistry() as server:
        for version in ("1.0.0", "1.2.0", "2.0.0"):
            push_chart(server, "charts/lib", version)
        yield server


def context(tmp_path: Path, credentials: CredentialStore = NO_CREDENTIALS) -> StepContext:
    """A step context running the project's helm; fails when helm is not installed."""
    if not (TOOLS / "helm").is_file():
        pytest.fail(f"helm missing from {TOOLS}: run scripts/install-tools")
    ctx = make_ctx(tmp_path, credentials=credentials)
    return replace(ctx, tools=ToolPaths(helm=str(TOOLS / "helm")))


def helm_rule(repo_url: str, password: str = PASSWORD) -> CredentialRule:
    return CredentialRule("helm", repo_url, Credentials("bot", SecretStr(password)))


def write_chart(ctx: StepContext, *dependencies: tuple[str, str, str]) -> Path:
    """``charts/app`` depending on ``(name, version, repository)`` entries."""
    chart = ctx.work_dir / "charts/app"
    lines = "".join(
        f"- name: {name}\n  version: {version} # pinned by the Stage\n  repository: {repo}\n"
        for name, version, repo in dependencies
    )
    write(
        chart / "Chart.yaml",
        "# The app's umbrella chart\napiVersion: v2\nname: app\nversion: 0.1.0\n"
        f"dependencies:\n{lines}",
    )
    return chart


def run(ctx: StepContext, **config: Any) -> StepOutput:
    config = {"path": "charts/app", **config}
    validate_step_config("helm-update-chart", config)
    return builtin_registry().get("helm-update-chart").run(ctx, Config.model_validate(config))


def files_containing(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.mark.parametrize(
    ("config", "errors"),
    [
        ({}, [("", "'path' is a required property")]),
        ({"path": ""}, [("path", "'' should be non-empty")]),
        ({"path": "c", "charts": []}, [("charts", "[] should be non-empty")]),
        (
            {"path": "c", "charts": [{"repository": "https://r", "name": "n"}]},
            [("charts/0", "'version' is a required property")],
        ),
        (
            {"path": "c", "charts": [{"repository": "", "name": "n", "version": "1"}]},
            [("charts/0/repository", "'' should be non-empty")],
        ),
        (
            {"path": "c", "charts": [{"repository": "r", "name": "n", "version": "1", "x": 1}]},
            [("charts/0", "Additional properties are not allowed ('x' was unexpected)")],
        ),
    ],
)
def test_configs_are_checked_against_kargos_schema(config, errors):
    assert schema_errors("helm-update-chart", config) == errors


def test_https_repository_with_credentials(tmp_path, home, certificate, caplog):
    caplog.set_level(logging.DEBUG)
    with ChartRepository(
        {"library": ["1.0.0", "1.1.0", "2.0.0"]}, username="bot", password=PASSWORD, tls=certificate
    ) as repo:
        ctx = context(tmp_path, StaticCredentialStore((helm_rule(repo.url),)))
        chart = write_chart(ctx, ("library", "1.0.0", repo.url))
        before = (chart / "Chart.yaml").read_text()

        output = run(ctx, charts=[{"repository": repo.url, "name": "library", "version": "1.1.0"}])

        assert output == {
            "commitMessage": "Updated chart dependencies for charts/app\n\n- library: 1.1.0"
        }
        # Only the version's text changed in Chart.yaml.
        assert (chart / "Chart.yaml").read_text() == before.replace(
            "version: 1.0.0 #", "version: 1.1.0 #"
        )
        lock = (chart / "Chart.lock").read_text()
        assert f"- name: library\n  repository: {repo.url}\n  version: 1.1.0\n" in lock
        assert [p.name for p in (chart / "charts").iterdir()] == ["library-1.1.0.tgz"]
        assert {r.path for r in repo.requests} == {"/index.yaml", "/charts/library-1.1.0.tgz"}
        assert all(r.status == 200 and r.authorization.startswith("Basic ") for r in repo.requests)

        # Nothing changed: no message, and Chart.lock keeps its "generated" time.
        locked = (chart / "Chart.lock").read_bytes()
        assert (
            run(ctx, charts=[{"repository": repo.url, "name": "library", "version": "1.1.0"}]) == {}
        )
        assert (chart / "Chart.lock").read_bytes() == locked

        output = run(ctx, charts=[{"repository": repo.url, "name": "library", "version": "2.0.0"}])
        assert output == {
            "commitMessage": "Updated chart dependencies for charts/app\n\n"
            "- library: 1.1.0 -> 2.0.0"
        }
        assert [p.name for p in (chart / "charts").iterdir()] == ["library-2.0.0.tgz"]
    # The password went to the repository and nowhere else.
    assert files_containing(tmp_path, PASSWORD) == []
    assert list(home.iterdir()) == []
    assert PASSWORD not in caplog.text


def test_rejected_credentials_fail_without_showing_them(tmp_path, home, certificate):
    with ChartRepository(
        {"library": ["1.0.0"]}, username="bot", password=PASSWORD, tls=certificate
    ) as repo:
        ctx = context(tmp_path, StaticCredentialStore((helm_rule(repo.url, "wrong-password"),)))
        write_chart(ctx, ("library", "1.0.0", repo.url))
        with pytest.raises(RetryableStepError) as caught:
            run(ctx)
    message = str(caught.value)
    assert message.startswith(
        "failed to download the chart repository indexes for chart charts/app: ...Unable to get "
    )
    assert f"failed to fetch {repo.url}/index.yaml : 401 Unauthorized" in message
    assert "wrong-password" not in message
    assert list(home.iterdir()) == []


def test_version_ranges_resolve_to_the_newest_match_without_charts(tmp_path, home):
    with ChartRepository({"library": ["1.0.0", "1.4.2", "2.0.0"]}) as repo:
        ctx = context(tmp_path)
        chart = write_chart(ctx, ("library", "^1.0.0", repo.url))
        output = run(ctx)
    assert output == {
        "commitMessage": "Updated chart dependencies for charts/app\n\n- library: 1.4.2"
    }
    assert "version: ^1.0.0 #" in (chart / "Chart.yaml").read_text()
    assert [p.name for p in (chart / "charts").iterdir()] == ["library-1.4.2.tgz"]


def test_plain_http_repositories_never_get_credentials(tmp_path, home):
    # Kargo sends helm credentials only to https:// and OCI repositories.
    with ChartRepository({"library": ["1.0.0"]}) as repo:
        ctx = context(tmp_path, StaticCredentialStore((helm_rule(repo.url),)))
        write_chart(ctx, ("library", "1.0.0", repo.url))
        run(ctx)
    assert repo.requests
    assert all(r.authorization == "" for r in repo.requests)


def test_oci_charts_with_token_authentication(tmp_path, home, registry):
    with TokenAuthRegistry(registry, "robot", TOKEN_PASSWORD) as front:
        repository = f"oci://{front.host}/charts"
        rule = CredentialRule(
            "helm",
            f"oci://{front.host}/charts/lib",
            Credentials("robot", SecretStr(TOKEN_PASSWORD)),
        )
        ctx = context(tmp_path, StaticCredentialStore((rule,)))
        chart = write_chart(ctx, ("lib", "^1.0.0", repository))

        assert run(ctx) == {
            "commitMessage": "Updated chart dependencies for charts/app\n\n- lib: 1.2.0"
        }
        output = run(ctx, charts=[{"repository": repository, "name": "lib", "version": "2.0.0"}])
        assert output == {
            "commitMessage": "Updated chart dependencies for charts/app\n\n- lib: 1.2.0 -> 2.0.0"
        }
        assert front.counts["token"] >= 1
        assert [p.name for p in (chart / "charts").iterdir()] == ["lib-2.0.0.tgz"]

        anonymous = replace(ctx, credentials=NO_CREDENTIALS)
        with pytest.raises(RetryableStepError, match="401") as caught:
            run(anonymous, charts=[{"repository": repository, "name": "lib", "version": "1.0.0"}])
        assert TOKEN_PASSWORD not in str(caught.value)
    assert files_containing(tmp_path, TOKEN_PASSWORD) == []
    assert list(home.iterdir()) == []


def test_several_changes_are_listed_by_name(tmp_path, home):
    ctx = context(tmp_path)

    def library(name: str, version: str) -> tuple[str, str, str]:
        write(
            ctx.work_dir / f"libs/{name}/Chart.yaml",
            f"apiVersion: v2\nname: {name}\nversion: {version}\n",
        )
        return name, version, f"file://../../libs/{name}"

    write_chart(ctx, library("zeta", "1.0.0"), library("alpha", "1.0.0"), library("mid", "1.0.0"))
    run(ctx)
    zeta = library("zeta", "1.1.0")
    write_chart(
        ctx,
        ("zeta", "1.0.0", zeta[2]),
        ("alpha", "'>=1.0.0'", library("alpha", "3.0.0")[2]),
        library("gone", "3.0.0"),
    )

    output = run(ctx, charts=[{"repository": zeta[2], "name": "zeta", "version": "1.1.0"}])

    assert output == {
        "commitMessage": "Updated chart dependencies for charts/app\n\n"
        "- alpha: 1.0.0 -> 3.0.0\n"
        "- gone: 3.0.0\n"
        "- mid: removed\n"
        "- zeta: 1.0.0 -> 1.1.0"
    }


def test_an_update_must_match_a_dependency_exactly(tmp_path, home):
    ctx = context(tmp_path)
    write_chart(ctx, ("library", "1.0.0", "https://charts.example.com"))
    with pytest.raises(TerminalStepError) as caught:
        run(
            ctx,
            charts=[
                {"repository": "https://charts.example.com/", "name": "library", "version": "2.0.0"}
            ],
        )
    assert str(caught.value) == (
        "no dependency in Chart.yaml matches update with repository "
        "'https://charts.example.com/' and name 'library'"
    )


@pytest.mark.parametrize(
    ("repository", "message"),
    [
        ("file:///etc/charts", "dependency path '/etc/charts' must be relative"),
        ("file://../../../outside", "dependency path is outside the work directory"),
        (
            "file://../../libs/linked",
            "symlink at libs/linked/templates points outside the path boundary",
        ),
        ("file://../../libs/none", "the dependency path does not exist"),
    ],
)
def test_local_dependencies_stay_in_the_work_directory(tmp_path, home, repository, message):
    ctx = context(tmp_path)
    (tmp_path / "outside").mkdir()
    write(ctx.work_dir / "libs/linked/Chart.yaml", "apiVersion: v2\nname: linked\nversion: 1.0.0\n")
    (ctx.work_dir / "libs/linked/templates").symlink_to(tmp_path / "outside")
    write_chart(ctx, ("lib", "1.0.0", repository))
    with pytest.raises(TerminalStepError) as caught:
        run(ctx)
    assert str(caught.value) == f"invalid dependency {repository!r}: {message}"


def test_a_missing_chart_is_named(tmp_path, home):
    ctx = context(tmp_path)
    with pytest.raises(
        TerminalStepError, match=r"^charts/app: no Helm chart there \(no Chart.yaml\)$"
    ):
        run(ctx)


def test_missing_helm_names_the_tool_and_how_to_install_it(tmp_path, home, monkeypatch):
    ctx = replace(context(tmp_path), tools=ToolPaths())
    write_chart(ctx, ("lib", "1.0.0", "https://charts.example.com"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(
        StepError, match=r"helm is needed to update Helm chart dependencies.*install"
    ):
        run(ctx)


# A helm that shows what it would send, as a verbose helm or a server quoting the request does:
# each repository's password percent-encoded in a URL, and the registry logins (the base64 of
# ``user:password``) as they are written. Real helm prints none of this when it works.
TALKATIVE_HELM = """\
import json, os, sys
from urllib.parse import quote
repositories = json.load(open(os.environ["HELM_REPOSITORY_CONFIG"]))["repositories"]
for repository in repositories:
    password = quote(repository.get("password", ""), safe="")
    print(f"GET {repository['url']}/index.yaml?token={password}: 401", file=sys.stderr)
print(open(os.environ["HELM_REGISTRY_CONFIG"]).read(), file=sys.stderr)
sys.exit(1)
"""


def test_passwords_are_masked_in_every_form_helm_may_show_them(tmp_path, home):
    # Characters that percent-encoding changes, so the encoded form differs from the password.
    classic, registry = "h3lm/pa ss+w@rd", "0ci/t0k en+x"
    https, oci = "https://127.0.0.1:1/charts", "oci://127.0.0.1:1/charts"
    store = StaticCredentialStore(
        (
            helm_rule(https, classic),
            CredentialRule("helm", f"{oci}/lib", Credentials("robot", SecretStr(registry))),
        )
    )
    helm = tmp_path / "helm"
    helm.write_text(f"#!{sys.executable}\n{TALKATIVE_HELM}")
    helm.chmod(0o755)
    ctx = replace(context(tmp_path, store), tools=ToolPaths(helm=str(helm)))
    write_chart(ctx, ("library", "1.0.0", https), ("lib", "1.0.0", oci))

    with pytest.raises(RetryableStepError) as caught:
        run(ctx)

    message = str(caught.value)
    # What helm said is there, with every shape of both passwords masked.
    assert f"GET {https}/index.yaml?token=*****: 401" in message
    assert '"127.0.0.1:1": {"auth": "*****"}' in message
    login = base64.b64encode(f"robot:{registry}".encode()).decode()
    for password, shapes in (
        (classic, [classic, quote(classic, safe="")]),
        (registry, [registry, quote(registry, safe=""), login, login.rstrip("=")]),
    ):
        for shape in shapes:
            assert shape not in message, (password, shape)
    assert list(home.iterdir()) == []
