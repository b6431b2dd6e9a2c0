"""Credentials in repository URLs never reach messages."""

import pytest

from kargo_dagster.errors import ManifestError
from kargo_dagster.redaction import has_credentials, redact_text, redact_url
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
