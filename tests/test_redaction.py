"""Credentials in repository URLs, and known secrets in any encoding, never reach messages."""

import random
import re

import pytest

from kargo_dagster.errors import ManifestError
from kargo_dagster.redaction import (
    MASK,
    basic_auth_secrets,
    has_credentials,
    header_secrets,
    mask_secrets,
    redact_text,
    redact_url,
    secret_forms,
)
from kargo_dagster.spec import load_manifests

TOKEN = "ghp_s3cretT0ken"


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        (f"https://me:{TOKEN}@git.example.com/r.git", "https://me:xxxxx@git.example.com/r.git"),
        (f"https://{TOKEN}@git.example.com/r.git", "https://xxxxx@git.example.com/r.git"),
        (f"oci://robot:{TOKEN}@registry.example.com/c", "oci://robot:xxxxx@registry.example.com/c"),
        ("ssh://git@github.com/a/b.git", "ssh://git@github.com/a/b.git"),
        ("https://git.example.com/r.git", "https://git.example.com/r.git"),
    ],
)
def test_redact_url(url: str, redacted: str):
    assert redact_url(url) == redacted
    assert has_credentials(url) is (url != redacted)


def test_redact_text_masks_every_url():
    text = f"'https://a:{TOKEN}@h/x' and https://{TOKEN}@h/y"
    assert redact_text(text) == "'https://a:xxxxx@h/x' and https://xxxxx@h/y"


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        # The scheme starts at the first letter of the run before "://".
        ("1+https://tok@h", "1+https://xxxxx@h"),
        ("x-https://tok@h", "x-https://tok@h"),
        ("123://a:b@h", "123://a:b@h"),
        ("://a:b@h", "://a:b@h"),
        ("HTTPS://tok@h", "HTTPS://xxxxx@h"),
        ("git+ssh://git@h", "git+ssh://git@h"),
        ("ftp://u:p@h", "ftp://u:xxxxx@h"),
        # The userinfo ends at "/", "@", whitespace and quotes.
        ("https://a b@h", "https://a b@h"),
        ("https://a/b@h", "https://a/b@h"),
        ("https://'tok'@h", "https://'tok'@h"),
        ("https://a@b@h", "https://xxxxx@b@h"),
        ("https://u:p@h://v:q@h", "https://u:xxxxx@h://v:xxxxx@h"),
        ("a://b://c:d@h", "a://b://c:xxxxx@h"),
    ],
)
def test_redact_text_edges(text: str, redacted: str):
    assert redact_text(text) == redacted


# The rule redact_text follows, as a plain regular expression; its backtracking is quadratic
# on long runs, so it only checks short texts.
_REFERENCE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<userinfo>[^/@\s'\"]+)@")


def _reference(text: str) -> str:
    def masked(match: re.Match[str]) -> str:
        scheme, userinfo = match["scheme"], match["userinfo"]
        user, colon, _ = userinfo.partition(":")
        if colon:
            return f"{scheme}://{user}:{MASK}@"
        return f"{scheme}://{MASK if scheme.lower() in ('http', 'https', 'oci') else user}@"

    return _REFERENCE.sub(masked, text)


def test_redact_text_agrees_with_the_reference_pattern():
    pieces = [*"ahtps1+.-:/@ '\"\n", "http", "https", "oci", "://", "://u:p@"]
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(25)))
        assert redact_text(text) == _reference(text), text


LARGE = 4_000_000  # characters

# Texts a quadratic scan would take hours over; each must come back right. There is no
# clock in the assertion: the suite's own run time is what a regression would blow up.
LARGE_UNCHANGED = {
    "letters": "a" * LARGE,
    "separators without @": "a://" * (LARGE // 4),
    "scheme-like runs": "a:" * (LARGE // 2),
    "userinfo without @": "https://" + "x" * LARGE,
    "userinfo cut by slashes": "https://u:p" + "/x" * (LARGE // 2) + "@h",
    "scheme without letters": "1" * LARGE + "://u:p@h",
    "at signs": "@" * LARGE,
}


@pytest.mark.parametrize("shape", LARGE_UNCHANGED)
def test_redact_text_reads_megabytes_without_credentials(shape: str):
    text = LARGE_UNCHANGED[shape]
    assert redact_text(text) == text


def test_redact_text_masks_megabytes_of_credentials():
    count = LARGE // 16
    assert redact_text("https://u:p@h/x " * count) == "https://u:xxxxx@h/x " * count
    long_scheme = "h" * LARGE
    assert redact_text(f"{long_scheme}://u:p@h") == f"{long_scheme}://u:{MASK}@h"
    token = "t" * LARGE
    assert redact_text(f"see https://{token}@h") == f"see https://{MASK}@h"


def test_basic_auth_secrets_are_the_header_value_padded_and_not():
    assert basic_auth_secrets("bot", "s3cret") == ("Ym90OnMzY3JldA==", "Ym90OnMzY3JldA")
    assert basic_auth_secrets("bot", "s3cre") == ("Ym90OnMzY3Jl",)
    assert basic_auth_secrets("bot", "") == ()


@pytest.mark.parametrize(
    ("value", "secrets"),
    [
        ("Bearer tok3n", ("Bearer tok3n", "tok3n")),
        (
            "Basic Ym90OnMzY3JldA==",
            ("Basic Ym90OnMzY3JldA==", "Ym90OnMzY3JldA==", "Ym90OnMzY3JldA"),
        ),
        ("glpat-tok3n", ("glpat-tok3n",)),
        ("", ()),
    ],
)
def test_header_secrets(value: str, secrets: tuple[str, ...]):
    assert header_secrets(value) == secrets


def test_secret_forms_cover_url_encodings():
    assert secret_forms("p@ss w/rd+é") == {
        "p@ss w/rd+é",
        "p%40ss%20w%2Frd%2B%C3%A9",
        "p%40ss%20w/rd%2B%C3%A9",
        "p%40ss+w%2Frd%2B%C3%A9",
        "p%40ss+w/rd%2B%C3%A9",
    }
    assert secret_forms("") == set()


def test_mask_secrets_masks_every_form():
    password = "pa ss/wörd"
    encoded = "Ym90OnBhIHNzL3fDtnJk"
    assert basic_auth_secrets("bot", password) == (encoded,)
    text = f"{password} | pa%20ss%2Fw%C3%B6rd | pa+ss/w%C3%B6rd | Basic {encoded} | https://bot:x@h"
    masked = mask_secrets(text, [password, *basic_auth_secrets("bot", password)], mask="*")
    assert masked == "* | * | * | Basic * | https://bot:xxxxx@h"


def test_mask_secrets_masks_overlapping_secrets_as_one():
    assert mask_secrets("abcdefghi", ["abcdef", "defghi"]) == MASK
    assert mask_secrets("s3cret-s3cret|s3crets3cret", ["s3cret"]) == (f"{MASK}-{MASK}|{MASK}{MASK}")
    assert mask_secrets("padded Ym90OnMzY3JldA== ", basic_auth_secrets("bot", "s3cret")) == (
        f"padded {MASK} "
    )
    assert mask_secrets("nothing known", ["", "absent"]) == "nothing known"


def test_mask_secrets_reads_megabytes():
    secret = "s3cr3t-t0ken"
    count = LARGE // 16
    assert mask_secrets("s3cr3t-t0 a:// " * count, [secret]) == "s3cr3t-t0 a:// " * count
    assert mask_secrets(f"{secret}. " * count, [secret], mask="*") == "*. " * count


WAREHOUSE = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: demo
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: demo
spec:
  subscriptions:
  - git:
      repoURL: https://bot:{token}@git.example.com/app.git
  - chart:
      repoURL: https://bot:{token}@charts.example.com/
      name: app
"""


def test_manifest_errors_never_show_credentials(tmp_path):
    path = tmp_path / "warehouse.yaml"
    path.write_text(WAREHOUSE.format(token=TOKEN))
    with pytest.raises(ManifestError) as caught:
        load_manifests(path)
    text = str(caught.value)
    assert TOKEN not in text
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (14, "spec.subscriptions.0.git.repoURL"),
        (16, "spec.subscriptions.1.chart.repoURL"),
    ]
    assert "must not carry credentials" in caught.value.problems[0].message
