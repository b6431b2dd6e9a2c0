"""Freight identity must match Kargo's byte for byte, so the same artifacts give the same ID.

Each ID below is pinned twice: as the SHA-1 of the exact string Kargo's ``GenerateFreightID``
(``pkg/api/freight.go``) hashes, written out by hand, and as the hex that Kargo's own Go
logic (``pkg/urls`` plus the hash-part functions, run once outside this suite) printed for
the same Freight. Kargo's Go tests pin no ID values, only determinism.
"""

import ast
import doctest
import hashlib
import itertools
import json
import random
import re
import shlex
from pathlib import Path

import pytest
from dagster._core.definitions.partitions.utils.base import (
    raise_error_on_invalid_partition_key_substring,
)
from dagster._core.definitions.partitions.utils.multi import (
    INVALID_STATIC_PARTITIONS_KEY_CHARACTERS,
)
from pydantic import ValidationError

from kargo_dagster import freight as freight_module
from kargo_dagster.errors import FreightError
from kargo_dagster.freight import (
    LEGACY_PARTITION_KEY_PATTERN,
    MAX_TOKEN_LENGTH,
    MAX_TOKENS,
    PARTITION_KEY_PATTERN,
    Chart,
    Freight,
    FreightOrigin,
    GitCommit,
    Image,
    normalize_chart_repo_url,
    normalize_git_url,
    parse_partition_key,
)
from kargo_dagster.freight_words import ADJECTIVES, ANIMALS

DIGEST = "sha256:3a2e0ac8a6b3e5a0f8d4f4e1b0c6d5e2f1a7b9c8d0e3f6a1b4c7d2e5f8a9b0c1"
COMMIT_ID = "9f2b0c5e4d3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def guestbook_image() -> Image:
    return Image(repo_url="ghcr.io/akuity/guestbook", tag="v0.0.1", digest=DIGEST)


def demo_freight() -> Freight:
    return Freight(
        origin=FreightOrigin(name="kargo-demo"),
        images=(
            Image(
                repo_url="docker.io/library/nginx",
                tag="1.27.0",
                digest=DIGEST,
                subscription_name="frontend",
            ),
        ),
        commits=(
            GitCommit(
                repo_url="git@github.com:example/kargo-demo.git",
                id="0123456789abcdef0123456789abcdef01234567",
            ),
        ),
        charts=(Chart(repo_url="oci://ghcr.io/akuity/charts/guestbook", version="0.2.0"),),
    )


# --- Freight IDs ------------------------------------------------------------------------------

ID_VECTORS = [
    pytest.param(
        Freight(origin=FreightOrigin(name="guestbook"), images=(guestbook_image(),)),
        f"Warehouse/guestbook:ghcr.io/akuity/guestbook:v0.0.1@{DIGEST}",
        "be5e0f98c45022c11937de44e637adf98f83adaf",
        id="image",
    ),
    pytest.param(
        Freight(
            origin=FreightOrigin(name="guestbook"),
            commits=(
                GitCommit(
                    repo_url="https://user:token@GitHub.com/Example/Kargo-Demo.git/",
                    id=COMMIT_ID,
                    tag="v1.2.0",
                ),
            ),
        ),
        f"Warehouse/guestbook:https://github.com/example/kargo-demo:v1.2.0:{COMMIT_ID}",
        "accdf96ab66b69f6edab7ab45a8d83a41aef9cc6",
        id="commit-with-tag-credentials-and-dot-git",
    ),
    pytest.param(
        Freight(
            origin=FreightOrigin(name="charts"),
            charts=(
                Chart(repo_url="https://Charts.Example.com/", name="guestbook", version="0.3.1"),
            ),
        ),
        # Go's path.Join cleans the "//" of the scheme away.
        "Warehouse/charts:https:/charts.example.com/guestbook:0.3.1",
        "52c2389fad1db6c970f68441e5d7af1f2cde2f12",
        id="http-chart",
    ),
    pytest.param(
        Freight(
            origin=FreightOrigin(name="charts"),
            charts=(
                Chart(repo_url="oci://registry-1.docker.io/bitnamicharts/redis", version="19.0.1"),
            ),
        ),
        "Warehouse/charts:bitnamicharts/redis:19.0.1",
        "ca67f3dd63e54fb8d6ed6810e83964a3ed3ee1b4",
        id="oci-chart-on-docker-hub",
    ),
    pytest.param(
        demo_freight(),
        "Warehouse/kargo-demo:"
        f"docker.io/library/nginx:1.27.0@{DIGEST}:frontend"
        "|ghcr.io/akuity/charts/guestbook:0.2.0"
        "|ssh://git@github.com/example/kargo-demo:0123456789abcdef0123456789abcdef01234567",
        "e3e9cbe9dddc243a54c4d128eb54568ca755981c",
        id="mixed-sorted-with-subscription-name",
    ),
]


@pytest.mark.parametrize(("freight", "hashed", "kargo_id"), ID_VECTORS)
def test_id_is_sha1_of_kargos_string(freight: Freight, hashed: str, kargo_id: str) -> None:
    assert freight.id == sha1(hashed) == kargo_id


def test_image_repo_url_is_not_normalised() -> None:
    # Kargo hashes image repoURLs verbatim, unlike commit and chart URLs.
    short = Image(repo_url="nginx", tag="1.27.0", digest=DIGEST)
    long = Image(repo_url="docker.io/library/nginx", tag="1.27.0", digest=DIGEST)
    origin = FreightOrigin(name="w")
    assert Freight(origin=origin, images=(short,)).id != Freight(origin=origin, images=(long,)).id
    assert short.id_part == f"nginx:1.27.0@{DIGEST}"


def test_commit_without_tag_and_with_subscription_name() -> None:
    commit = GitCommit(repo_url="https://github.com/example/repo", id="abc", branch="main")
    assert commit.id_part == "https://github.com/example/repo:abc"
    named = commit.model_copy(update={"subscription_name": "app"})
    assert named.id_part == "https://github.com/example/repo:abc:app"


def test_chart_subscription_name_and_empty_name() -> None:
    chart = Chart(repo_url="oci://ghcr.io/x/app", version="1.0.0", subscription_name="app")
    assert chart.id_part == "ghcr.io/x/app:1.0.0:app"


def test_id_ignores_artifact_order() -> None:
    origin = FreightOrigin(name="w")
    images = [
        guestbook_image(),
        Image(repo_url="nginx", tag="1", digest=DIGEST),
        Image(repo_url="ghcr.io/x/y", tag="2"),
    ]
    commits = [GitCommit(repo_url="https://github.com/a/b", id=c) for c in ("1", "2")]
    ids = {
        Freight(origin=origin, images=tuple(i), commits=tuple(c)).id
        for i in itertools.permutations(images)
        for c in itertools.permutations(commits)
    }
    assert len(ids) == 1


def test_id_changes_with_any_identifying_field() -> None:
    base = demo_freight()
    variants = [
        base.model_copy(update={"origin": FreightOrigin(name="other")}),
        base.model_copy(update={"images": (guestbook_image(),)}),
        base.model_copy(update={"commits": ()}),
        base.model_copy(update={"charts": (Chart(repo_url="oci://ghcr.io/x", version="9"),)}),
    ]
    assert len({base.id, *(v.id for v in variants)}) == 5


def test_fields_outside_the_id_do_not_change_it() -> None:
    origin = FreightOrigin(name="w")
    plain = GitCommit(repo_url="https://github.com/a/b", id="1")
    rich = plain.model_copy(update={"message": "fix", "author": "a", "branch": "main"})
    annotated = guestbook_image().model_copy(update={"annotations": {"k": "v"}})
    assert Freight(origin=origin, commits=(plain,)).id == Freight(origin=origin, commits=(rich,)).id
    with_image = Freight(origin=origin, images=(guestbook_image(),))
    assert with_image.id == Freight(origin=origin, images=(annotated,)).id


# --- URL normalisation (cases from Kargo's pkg/urls tests, plus a few more) -------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://not a url", "https://not a url"),
        ("http://github.com/example/repo?foo=bar", "http://github.com/example/repo?foo=bar"),
        ("ssh://github.com/example/repo?foo=bar", "ssh://github.com/example/repo?foo=bar"),
        ("not even remotely a url", "not even remotely a url"),
        ("https://github.com/", "https://github.com"),
        ("https://foo:bar@github.com/", "https://github.com"),
        ("https://github.com/example/repo.git/", "https://github.com/example/repo"),
        ("https://foo:bar@localhost:8443/example/repo.git/", "https://localhost:8443/example/repo"),
        ("https://ghp_token@github.com/example/repo.git", "https://github.com/example/repo"),
        ("HTTPS://GitHub.COM/Example/Repo.GIT", "https://github.com/example/repo"),
        ("ssh://git.example.com/", "ssh://git.example.com"),
        ("ssh://git@localhost:2222/example/repo.git/", "ssh://git@localhost:2222/example/repo"),
        ("git.example.com", "ssh://git.example.com"),
        ("git@git.example.com", "ssh://git@git.example.com"),
        ("github.com:example/repo.git/", "ssh://github.com/example/repo"),
        ("git@github.com:example/repo.git/", "ssh://git@github.com/example/repo"),
        ("\ufeff  https://github.com/example/\u200brepo.git  ", "https://github.com/example/repo"),
        # One "/" then one ".git" are trimmed, in that order.
        ("https://github.com/example/repo.git//", "https://github.com/example/repo.git/"),
        # A query with no parameter is kept; a fragment survives.
        ("https://github.com/example/repo.git?", "https://github.com/example/repo?"),
        ("https://github.com/example/repo.git#Main", "https://github.com/example/repo#main"),
        # Go re-escapes the path it decoded.
        ("https://github.com/my repo.git", "https://github.com/my%20repo"),
        ("https://[::1]:8443/example/repo.git", "https://[::1]:8443/example/repo"),
        # Go 1.26 rejects these hosts, so Kargo leaves the URLs alone.
        ("https://[1.2.3.4]/example/repo.git", "https://[1.2.3.4]/example/repo.git"),
        ("https://host:1:2/example/repo.git", "https://host:1:2/example/repo.git"),
    ],
)
def test_normalize_git_url(url: str, expected: str) -> None:
    assert normalize_git_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", ""),
        ("repo", "repo"),
        ("  repo  ", "repo"),
        ("REpo", "repo"),
        ("oci://repo", "repo"),
        ("OCI://Repo", "repo"),
        ("oci://docker.io/example/repo", "example/repo"),
        ("index.docker.io/example/repo", "example/repo"),
        ("oci://registry-1.docker.io/example/repo", "example/repo"),
        ("oci://docker.io/library/busybox", "busybox"),
        ("oci://ghcr.io/Akuity/Charts/kargo", "ghcr.io/akuity/charts/kargo"),
        ("oci://ghcr.io/akuity/charts/kargo:1.0.0", "ghcr.io/akuity/charts/kargo"),
        ("oci://localhost:5000/charts/app", "localhost:5000/charts/app"),
        ("https://Charts.Example.com", "https://charts.example.com"),
        ("https://charts.example.com/", "https://charts.example.com/"),
        # A port makes the image parser fail, so the (sanitised, lower-cased) URL stays.
        ("https://Charts.Example.com:8443/x", "https://charts.example.com:8443/x"),
        # Single-character repositories are invalid in go-containerregistry v0.21.7.
        ("A", "a"),
    ],
)
def test_normalize_chart_repo_url(url: str, expected: str) -> None:
    assert normalize_chart_repo_url(url) == expected


def test_normalisers_return_unparseable_input_unchanged() -> None:
    assert normalize_chart_repo_url(" :Bad ") == " :Bad "
    assert normalize_git_url("https://Host/%zz") == "https://Host/%zz"


# --- Alias and partition key -----------------------------------------------------------------


def test_partition_key_shows_versions_then_id_prefix() -> None:
    freight = demo_freight()
    assert freight.partition_key == demo_freight().partition_key
    # Images (tag), then charts (version), then commits (no tag: the short commit ID).
    assert freight.partition_key == f"1.27.0_0.2.0_0123456-{freight.id[:7]}"
    assert parse_partition_key(freight.partition_key) == freight.id[:7]


def test_alias_is_kargo_style_and_deterministic() -> None:
    freight = demo_freight()
    assert freight.alias == demo_freight().alias != freight.partition_key
    adjective, animal, prefix = freight.alias.split("-")
    assert adjective in ADJECTIVES
    assert animal in ANIMALS
    assert prefix == freight.id[:7] == parse_partition_key(freight.alias)
    assert freight.partition_keys == (freight.partition_key, freight.alias)


def test_pinned_partition_keys_and_aliases() -> None:
    # Changing the word lists or the byte choice would lose every partition recorded under
    # its alias; changing the token rules would record known Freight again under a new key.
    guestbook = Freight(origin=FreightOrigin(name="guestbook"), images=(guestbook_image(),))
    assert guestbook.partition_key == "v0.0.1-be5e0f9"
    assert guestbook.alias == "civil-quail-be5e0f9"
    assert demo_freight().partition_key == "1.27.0_0.2.0_0123456-e3e9cbe"
    assert demo_freight().alias == "fast-impala-e3e9cbe"


def _image(tag: str = "", digest: str = "") -> Image:
    return Image(repo_url="ghcr.io/x/app", tag=tag, digest=digest)


def _key(**artifacts: tuple) -> str:
    return Freight(origin=FreightOrigin(name="w"), **artifacts).partition_key  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("artifacts", "versions"),
    [
        ({"images": (_image("v0.3.0"),)}, "v0.3.0"),
        ({"images": (_image(digest=DIGEST),)}, "sha256-3a2e0ac"),
        ({"images": (_image(digest="sha512:ABCDEF0123456789"),)}, "sha512-ABCDEF0"),
        ({"images": (_image("1.0_rc1", DIGEST),)}, "1.0-rc1"),
        ({"charts": (Chart(repo_url="oci://r/c", version="1.2.0+build.7"),)}, "1.2.0+build.7"),
        (
            {"commits": (GitCommit(repo_url="https://g/a/b", id=COMMIT_ID, tag="release/v1"),)},
            "release-v1",
        ),
        ({"commits": (GitCommit(repo_url="https://g/a/b", id=COMMIT_ID),)}, "9f2b0c5"),
        # Images first, then charts, then commits, whatever the order given.
        (
            {
                "commits": (GitCommit(repo_url="https://g/a/b", id=COMMIT_ID, tag="v2"),),
                "charts": (Chart(repo_url="oci://r/c", version="3.0.0"),),
                "images": (_image("v1"),),
            },
            "v1_3.0.0_v2",
        ),
        # At most three tokens, then how many more.
        ({"images": tuple(_image(f"v{n}") for n in range(3))}, "v0_v1_v2"),
        ({"images": tuple(_image(f"v{n}") for n in range(4))}, "v0_v1_v2_+1"),
        ({"images": tuple(_image(f"v{n}") for n in range(12))}, "v0_v1_v2_+9"),
        # A token is cut at 40 characters, without leaving a separator at its end.
        ({"images": (_image("a" * 39 + "." + "b" * 10),)}, "a" * 39),
        ({"images": (_image("c" * 60),)}, "c" * 40),
        # Awkward tags: separators and unsafe characters become one "-", never at either end.
        ({"images": (_image("--v1--"),)}, "v1"),
        ({"images": (_image("v1...2"),)}, "v1.2"),
        ({"images": (_image("v1,2[3]|4"),)}, "v1-2-3-4"),
        ({"images": (_image("ünïcode-1"),)}, "n-code-1"),
        ({"images": (_image("$(rm -rf ~)"),)}, "rm-rf"),
        # Nothing safe left: the digest, else the artifact's kind.
        ({"images": (_image("___", DIGEST),)}, "sha256-3a2e0ac"),
        ({"images": (_image("???"),)}, "image"),
        ({"charts": (Chart(repo_url="oci://r/c", version="~~"),)}, "chart"),
        (
            {"commits": (GitCommit(repo_url="https://g/a/b", id=COMMIT_ID, tag="@{}"),)},
            "9f2b0c5",
        ),
    ],
)
def test_partition_key_tokens(artifacts: dict, versions: str) -> None:
    key = _key(**artifacts)
    assert key.rsplit("-", 1)[0] == versions
    assert_valid_partition_key(key)


# Characters that tags, chart versions and git tags may hold, and some they should not.
AWKWARD = "aZ09._-+/:@~^*?[]{}(),|;&$`'\"\\ \t\n\r\a\b\f\v\0…ü语🙂"


def assert_valid_partition_key(key: str) -> None:
    """Dagster accepts ``key``, a shell reads it as one plain word, and it parses back."""
    raise_error_on_invalid_partition_key_substring([key])  # "..." and control characters
    assert not INVALID_STATIC_PARTITIONS_KEY_CHARACTERS & set(key)  # multi-partition keys
    assert shlex.quote(key) == key  # nothing a shell would interpret
    assert not key.startswith("-")  # not an option to a command line
    assert key.isascii() and key.isprintable()
    assert PARTITION_KEY_PATTERN.fullmatch(key)
    assert len(key) <= MAX_TOKENS * (MAX_TOKEN_LENGTH + 1) + len("+999-0123456")


def test_every_partition_key_is_valid_and_deterministic() -> None:
    rng = random.Random(20261207)

    def version() -> str:
        return "".join(rng.choice(AWKWARD) for _ in range(rng.randint(1, 60)))

    origin = FreightOrigin(name="w")
    keys: dict[str, str] = {}
    for _ in range(3000):
        images = tuple(
            Image(repo_url=f"r/{n}", tag=version(), digest=rng.choice(("", DIGEST)))
            for n in range(rng.randint(0, 3))
        )
        charts = tuple(
            Chart(repo_url=f"oci://r/{n}", version=version()) for n in range(rng.randint(0, 2))
        )
        commits = tuple(
            GitCommit(repo_url=f"https://g/{n}", id=COMMIT_ID, tag=rng.choice(("", version())))
            for n in range(rng.randint(0 if images or charts else 1, 2))
        )
        freight = Freight(origin=origin, images=images, charts=charts, commits=commits)
        key = freight.partition_key
        assert_valid_partition_key(key)
        assert parse_partition_key(key) == freight.id[:7]
        assert Freight.model_validate(freight.model_dump()).partition_key == key
        keys[freight.id] = key
    # Keys are as distinct as the IDs' 7-hex prefixes, whatever the versions.
    assert len(set(keys.values())) == len({freight_id[:7] for freight_id in keys}) > 2000


def test_keys_are_unique_when_id_prefixes_differ() -> None:
    origin = FreightOrigin(name="w")
    freights = [
        Freight(origin=origin, images=(Image(repo_url="ghcr.io/x/app", tag="latest", digest=d),))
        for d in (f"sha256:{n:064x}" for n in range(2000))
    ]
    # The same tag every time: the ID prefix alone tells the keys apart.
    by_prefix = {f.id[:7]: f.partition_key for f in freights}
    assert len(set(by_prefix.values())) == len(by_prefix) > 1990
    # The aliases' words vary too, so aliases stay easy to tell apart.
    assert len({f.alias.rsplit("-", 1)[0] for f in freights}) > 1000


def test_word_lists() -> None:
    for words in (ADJECTIVES, ANIMALS):
        assert len(words) == len(set(words)) == 100
        assert all(re.fullmatch(r"[a-z]{2,9}", word) for word in words)


@pytest.mark.parametrize(
    "key",
    [
        "v0.3.0-d095447",
        "1.27.0_0.2.0_0123456-e3e9cbe",
        "v0_v1_v2_+2-62055ee",
        "1.2.0+build.7-0123456",
        # Legacy keys: the aliases Freight was recorded under before keys showed versions.
        "azure-bobcat-6e372ca",
        "civil-quail-be5e0f9",
    ],
)
def test_parse_partition_key_reads_both_forms(key: str) -> None:
    assert parse_partition_key(key) == key[-7:]


def test_legacy_keys_are_aliases() -> None:
    alias = demo_freight().alias
    assert LEGACY_PARTITION_KEY_PATTERN.fullmatch(alias)
    assert PARTITION_KEY_PATTERN.fullmatch(alias)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "1234567",
        "-1234567",
        "brave-otter",
        "brave-otter-123456",
        "brave-otter-12345678",
        "brave-otter-123456g",
        "brave-otter-123456A",
        "-v1-1234567",
        "_v1-1234567",
        "v1...2-1234567",
        "v1..2-1234567",
        "v1,2-1234567",
        "v1 2-1234567",
        "v1/2-1234567",
        "v1\n-1234567",
    ],
)
def test_parse_partition_key_rejects_other_strings(key: str) -> None:
    with pytest.raises(FreightError, match="is not a Freight partition key"):
        parse_partition_key(key)


# --- Validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Freight(origin=FreightOrigin(name="w")), "at least one commit, image, or chart"),
        (lambda: Image(repo_url="", tag="v1"), "an image needs a repoURL"),
        (lambda: Image(repo_url="nginx"), "an image needs a tag or a digest"),
        (lambda: GitCommit(repo_url="https://github.com/a/b", id=""), "a commit needs an id"),
        (lambda: GitCommit(repo_url="", id="1"), "a commit needs a repoURL"),
        (lambda: Chart(repo_url="oci://ghcr.io/x", version=""), "a chart needs a version"),
        (lambda: Chart(repo_url="", version="1"), "a chart needs a repoURL"),
        (lambda: FreightOrigin(name=""), "a Freight origin needs a Warehouse name"),
        (lambda: FreightOrigin(name="a/b"), "a Freight origin needs a Warehouse name"),
    ],
)
def test_invalid_artifacts_raise_freight_error(build, message: str) -> None:
    with pytest.raises(FreightError, match=message):
        build()


def test_models_are_frozen_and_strict() -> None:
    image = guestbook_image()
    with pytest.raises(ValidationError):
        image.tag = "v2"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Image.model_validate({"repoURL": "nginx", "tag": "1", "platform": "linux/amd64"})
    assert hash(image.model_copy(update={"annotations": {"k": "v"}})) != hash(image)


# --- JSON ------------------------------------------------------------------------------------


def test_to_json_uses_kargos_names_and_round_trips() -> None:
    freight = demo_freight().model_copy(
        update={"images": (guestbook_image().model_copy(update={"annotations": {"b": "2"}}),)}
    )
    data = freight.to_json()
    assert list(data) == ["charts", "commits", "images", "origin"]
    assert data["images"] == [
        {
            "annotations": {"b": "2"},
            "digest": DIGEST,
            "repoURL": "ghcr.io/akuity/guestbook",
            "tag": "v0.0.1",
        }
    ]
    assert data["commits"] == [
        {
            "id": "0123456789abcdef0123456789abcdef01234567",
            "repoURL": "git@github.com:example/kargo-demo.git",
        }
    ]
    assert Freight.from_json(data) == freight
    assert Freight.from_json(json.dumps(data)) == freight
    assert freight.model_dump(by_alias=True)["images"][0]["repoURL"] == "ghcr.io/akuity/guestbook"


def test_from_json_reads_a_kargo_freight_resource() -> None:
    freight = demo_freight()
    resource = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Freight",
        "metadata": {"name": freight.id, "namespace": "kargo-demo"},
        "alias": "frozen-tauntaun",
        "discoveredAt": "2026-08-21T17:51:41Z",
        **freight.to_json(),
        "status": {"currentlyIn": {"test": {"since": "2026-08-21T18:00:00Z"}}},
    }
    assert Freight.from_json(resource) == freight
    resource["metadata"] = {"name": "0" * 40}
    with pytest.raises(FreightError, match="whose Kargo ID is"):
        Freight.from_json(resource)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "does not parse"),
        ("[]", "must be an object"),
        ({"origin": {"name": "w"}}, "at least one commit"),
        ({"origin": {"kind": "Stage", "name": "w"}, "images": []}, r"origin\.kind"),
        (
            {"origin": {"name": "w"}, "artifacts": [{"artifactType": "x", "version": "1"}]},
            "generic 'artifacts'",
        ),
        (
            {"origin": {"name": "w"}, "images": [{"repoURL": "nginx", "tag": "1", "extra": 1}]},
            r"images\.0\.extra",
        ),
    ],
)
def test_from_json_errors(data: object, message: str) -> None:
    with pytest.raises(FreightError, match=message):
        Freight.from_json(data)  # type: ignore[arg-type]


def test_from_json_errors_never_echo_values() -> None:
    data = {"origin": {"name": "w"}, "images": [{"repoURL": "https://u:s3cret@x", "tag": 5}]}
    with pytest.raises(FreightError) as caught:
        Freight.from_json(data)
    assert "s3cret" not in str(caught.value)
    assert "images.0.tag" in str(caught.value)


def test_artifact_rows() -> None:
    freight = Freight(
        origin=FreightOrigin(name="w"),
        images=(guestbook_image(),),
        commits=(
            GitCommit(
                repo_url="https://user:s3cret@github.com/a/b.git",
                id=COMMIT_ID,
                tag="v1",
                branch="main",
                message="Bump",
            ),
        ),
        charts=(Chart(repo_url="https://charts.example.com", name="app", version="1.0.0"),),
    )
    token_only = GitCommit(repo_url="https://ghp_abc@github.com/a/b", id="1")
    token_row = Freight(origin=FreightOrigin(name="w"), commits=(token_only,)).artifact_rows()
    assert token_row[0]["repoURL"] == "https://xxxxx@github.com/a/b"
    ssh_only = GitCommit(repo_url="ssh://git@github.com/a/b", id="1")
    ssh_row = Freight(origin=FreightOrigin(name="w"), commits=(ssh_only,)).artifact_rows()
    assert ssh_row[0]["repoURL"] == "ssh://git@github.com/a/b"
    assert freight.artifact_rows() == [
        {
            "type": "image",
            "repoURL": "ghcr.io/akuity/guestbook",
            "version": "v0.0.1",
            "detail": DIGEST,
        },
        {
            "type": "git",
            "repoURL": "https://user:xxxxx@github.com/a/b.git",
            "version": COMMIT_ID,
            "detail": "tag v1, branch main — Bump",
        },
        {
            "type": "chart",
            "repoURL": "https://charts.example.com",
            "version": "1.0.0",
            "detail": "app",
        },
    ]


# --- Module hygiene --------------------------------------------------------------------------


def test_docstring_examples() -> None:
    result = doctest.testmod(freight_module)
    assert result.attempted > 0
    assert result.failed == 0


def test_freight_modules_never_import_dagster() -> None:
    package = Path(freight_module.__file__).parent
    for name in ("freight.py", "freight_words.py"):
        tree = ast.parse((package / name).read_text())
        imported = [
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        ] + [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not [m for m in imported if m.split(".")[0].startswith("dagster")]
