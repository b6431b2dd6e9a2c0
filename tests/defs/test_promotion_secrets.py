"""A git password never lands anywhere a promotion writes, whether the promotion works or not.

A Stage promotes with git-clone, yaml-update, kustomize-set-image, git-commit and git-push
against a git server that demands Basic authentication, with a planted password no other
test uses. The server also says the password back, in every shape a request carries it (as
is, the base64 of ``user:password`` and percent-encoded), as a server that echoes requests
does. After the promotion runs through Dagster, none of those shapes may be found in: the
files of the work directory (git mirrors and their ``.git/config``), the promotion's own
directory while it exists (copied by the server's hook during the push), the remote
repository, everything the instance stored (events, run tags, snapshots, check evaluations,
compute logs), and what was logged.
"""

import base64
import logging
import shlex
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import KargoResource, RepositoryCredentials
from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from tests.defs.promotions import failure_message
from tests.defs.stored_state import everything_stored
from tests.manifests import image_tag, project, requested, stage, step, warehouse, write_manifests

APP = "registry.example.com/shop/app"
USERNAME = "kargo-bot"
PASSWORD_VARIABLE = "KARGO_DAGSTER_TEST_GIT_PASSWORD"
KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"


def planted() -> str:
    # Unique, so a hit can only come from this test; "/", "+", " " and "@" make the
    # percent-encoded shapes differ from the password itself.
    return f"pl4nted-{uuid.uuid4().hex}/s3c+r t@x"


def shapes(password: str) -> dict[str, bytes]:
    """Every shape of ``password`` that may travel in a request, by name."""
    basic = base64.b64encode(f"{USERNAME}:{password}".encode()).decode()
    found = {
        "password": password,
        "basic": basic,
        "basic unpadded": basic.rstrip("="),
        "percent-encoded": quote(password, safe=""),
        "percent-encoded path": quote(password),
        "form-encoded": quote_plus(password),
    }
    return {name: value.encode() for name, value in found.items()}


def leaks(data: bytes, password: str) -> list[str]:
    """The shapes of ``password`` found in ``data``."""
    return [name for name, value in shapes(password).items() if value in data]


def files_leaking(root: Path, password: str) -> dict[str, list[str]]:
    """Every file under ``root`` holding a shape of ``password``, with the shapes found."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            hits = leaks(path.read_bytes(), password)
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


@dataclass
class Gitops:
    """The GitOps repository behind an authenticating git server."""

    remote: GitRemote
    server: GitHTTPServer
    url: str
    password: str
    work: Path
    in_flight: Path
    said: Path

    def on_push(self, *, accept: bool, echo: str) -> None:
        """A pre-receive hook that copies the work directory (the promotion's clone exists
        only during the promotion), says ``echo`` to the client, and accepts or refuses."""
        hook = self.remote.git_dir / "hooks" / "pre-receive"
        # Outside every directory the test searches: it holds the password on purpose.
        self.said.write_text(echo)
        hook.write_text(
            "#!/bin/sh\n"
            "cat >/dev/null\n"
            f'cp -a {shlex.quote(str(self.work))} {shlex.quote(str(self.in_flight))}/"$$" '
            "2>/dev/null\n"
            f"cat {shlex.quote(str(self.said))} >&2\n"
            f"exit {0 if accept else 1}\n"
        )
        hook.chmod(0o755)


@pytest.fixture
def gitops(tmp_path: Path) -> Iterator[Gitops]:
    remotes = tmp_path / "remotes"
    remote = GitRemote.create(remotes, "gitops")
    remote.commit(
        "overlays",
        {
            "env/dev/kustomization.yaml": KUSTOMIZATION,
            "env/dev/values.yaml": "image:\n  tag: v0.0.0\n",
        },
    )
    password = planted()
    (tmp_path / "in-flight").mkdir()
    with GitHTTPServer(remotes, username=USERNAME, password=password) as server:
        yield Gitops(
            remote,
            server,
            server.url_for(remote),
            password,
            work=tmp_path / "work",
            in_flight=tmp_path / "in-flight",
            said=tmp_path / "server-says.txt",
        )


def echoed(password: str) -> str:
    """What a server that echoes the request says: the password in each of its shapes."""
    # One line: error messages keep only the first lines of what git says.
    said = ", ".join(f"{name}={value.decode()}" for name, value in shapes(password).items())
    return f"refused: {said}\n"


def definitions(tmp_path: Path, gitops: Gitops, password: str) -> dg.Definitions:
    """The shop with Stage dev promoting into ``gitops`` with ``password``.

    Pass the password as a ``dg.EnvVar``, as the README says to: a literal value would become
    part of the resource's configuration, which Dagster keeps in every run's job snapshot, so
    it is refused.
    """
    tag = image_tag(APP)
    path = write_manifests(
        tmp_path / "shop.yaml",
        project("shop"),
        warehouse("app", "shop", image=APP),
        stage(
            "dev",
            "shop",
            requested=[requested("app")],
            steps=[
                step(
                    "git-clone", repoURL=gitops.url, checkout=[{"branch": "main", "path": "./repo"}]
                ),
                step(
                    "yaml-update",
                    path="./repo/env/dev/values.yaml",
                    updates=[{"key": "image.tag", "value": tag}],
                ),
                step(
                    "kustomize-set-image",
                    path="./repo/env/dev",
                    images=[{"image": APP, "tag": tag}],
                ),
                step("git-commit", path="./repo", message="Promote " + tag),
                step("git-push", path="./repo"),
            ],
        ),
    )
    kargo = KargoResource(
        work_dir=str(gitops.work),
        credentials_from_env=False,
        credentials=[
            RepositoryCredentials(
                type="git",
                repo_url=gitops.url,
                username=USERNAME,
                password=password,
            )
        ],
    )
    return load_definitions(path, resources={"kargo": kargo})


def freight(tag: str) -> Freight:
    digest = "sha256:" + tag.encode().hex().ljust(64, "0")
    return Freight(
        origin=FreightOrigin(name="app"), images=(Image(repo_url=APP, tag=tag, digest=digest),)
    )


def promote(
    defs: dg.Definitions, instance: dg.DagsterInstance, tag: str
) -> dg.ExecuteInProcessResult:
    key = record_freight(instance, "shop", freight(tag))
    job = defs.resolve_job_def("shop__promote__dev")
    return job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False)


def assert_nothing_holds(
    password: str,
    gitops: Gitops,
    instance: dg.DagsterInstance,
    result: dg.ExecuteInProcessResult,
    logged: str,
) -> None:
    """No shape of ``password`` anywhere the promotion wrote or reported."""
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    where = {
        "run events": serialize_value(list(result.all_events)).encode(),
        "run tags": serialize_value(run.tags).encode(),
        "run logs": serialize_value(instance.all_logs(result.run_id)).encode(),
        "instance storage": everything_stored(instance),
        "log records": logged.encode(),
    }
    assert {name: hits for name, data in where.items() if (hits := leaks(data, password))} == {}
    for root in (gitops.work, gitops.in_flight, Path(instance.root_directory)):
        assert files_leaking(root, password) == {}, root
    # The remote's own files: its configuration, refs and objects (the hook holds no secret).
    assert files_leaking(gitops.remote.git_dir, password) == {}
    assert (gitops.remote.git_dir / "config").is_file()


def from_env(monkeypatch: pytest.MonkeyPatch, password: str) -> dg.EnvVar:
    """``password`` as the README has it configured: through an environment variable."""
    monkeypatch.setenv(PASSWORD_VARIABLE, password)
    return dg.EnvVar(PASSWORD_VARIABLE)


def test_a_promotion_leaves_the_password_nowhere(tmp_path, gitops, instance, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    gitops.on_push(accept=True, echo=echoed(gitops.password))
    defs = definitions(tmp_path, gitops, from_env(monkeypatch, gitops.password))

    result = promote(defs, instance, "v1.2.3")

    assert result.success, failure_message(result)
    # The promotion really went through the authenticated server with the planted password.
    assert f"{USERNAME}:{gitops.password}" in gitops.server.authorizations
    values = gitops.remote.git("show", "main:env/dev/values.yaml")
    assert values == "image:\n  tag: v1.2.3"
    assert "newTag: v1.2.3" in gitops.remote.git("show", "main:env/dev/kustomization.yaml")
    # The hook saw the promotion's clone while it existed, and what it copied is checked too.
    assert list(gitops.in_flight.glob("*/promotions/*/repo/.git"))
    # The files most likely to keep a credential are among those searched.
    for root in (gitops.work, *gitops.in_flight.iterdir()):
        assert list(root.glob("git-cache/*/repo.git/config")), root
    assert list(gitops.work.glob("git-cache/*/state.json"))
    compute_logs = [
        p for p in Path(instance.root_directory).rglob("*") if p.suffix in (".out", ".err")
    ]
    assert compute_logs, "no compute logs were captured to look into"
    assert_nothing_holds(gitops.password, gitops, instance, result, caplog.text)


def test_a_refused_push_leaves_the_password_nowhere(
    tmp_path, gitops, instance, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    gitops.on_push(accept=False, echo=echoed(gitops.password))
    defs = definitions(tmp_path, gitops, from_env(monkeypatch, gitops.password))

    result = promote(defs, instance, "v1.2.4")

    assert not result.success
    message = failure_message(result)
    # What the server said made it into the message, with every shape of the password masked.
    said = ", ".join(f"{name}=*****" for name in shapes(gitops.password))
    assert "(git-push)" in message and f"remote: refused: {said}" in message, message
    assert leaks(message.encode(), gitops.password) == []
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    assert list(gitops.in_flight.iterdir())
    assert_nothing_holds(gitops.password, gitops, instance, result, caplog.text)


def test_refused_credentials_leave_the_password_nowhere(
    tmp_path, gitops, instance, caplog, monkeypatch
):
    # The server wants gitops.password; the resource holds another planted one.
    caplog.set_level(logging.DEBUG)
    wrong = planted()
    defs = definitions(tmp_path, gitops, from_env(monkeypatch, wrong))

    result = promote(defs, instance, "v1.2.5")

    assert not result.success
    message = failure_message(result)
    assert "authentication failed" in message, message
    assert f"{USERNAME}:{wrong}" in gitops.server.authorizations
    assert_nothing_holds(wrong, gitops, instance, result, caplog.text)


def test_a_literal_password_is_refused_before_dagster_could_store_it(tmp_path, gitops):
    # Dagster keeps a resource's settings in every run's job snapshot and shows them in the
    # UI; only a dg.EnvVar's name would be kept.
    with pytest.raises(KargoDagsterError, match=r"KargoResource credentials\[0\]\.password: "):
        definitions(tmp_path, gitops, gitops.password)
