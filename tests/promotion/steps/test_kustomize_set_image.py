"""``kustomize-set-image``: the Kustomization's ``images`` point at the promoted versions."""

from dataclasses import replace
from pathlib import Path

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.promotion.steps.kustomize_set_image import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# The overlay for dev.
namespace: guestbook-dev
resources:
- ../../base
images:
- name: zeta/other
  newTag: "1.0"
"""


def context(tmp_path: Path, *images: Image):
    ctx = make_ctx(tmp_path)
    freight = Freight(origin=FreightOrigin(name="app"), images=images)
    return replace(
        ctx, promotion=replace(ctx.promotion, freight=freight, collection={"app": freight})
    )


def overlay(ctx) -> Path:
    folder = ctx.work_dir / "repo" / "env" / "dev"
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text(KUSTOMIZATION)
    return folder / "kustomization.yaml"


@pytest.mark.parametrize(
    ("config", "errors"),
    [
        ({}, [("", "'path' is a required property")]),
        (
            {"path": "x", "images": [{"tag": "v1"}]},
            [("images/0", "'image' is a required property")],
        ),
        ({"path": "x", "images": [{"image": "a", "tag": "v1", "digest": "sha256:1"}]}, None),
    ],
)
def test_invalid_configs(config, errors):
    found = schema_errors("kustomize-set-image", config)
    if errors is None:
        assert found  # tag and digest together match neither branch of the oneOf
    else:
        assert found == errors


def test_sets_configured_images_sorted_and_keeps_the_rest(tmp_path):
    ctx = context(tmp_path, Image(repo_url="ghcr.io/acme/app", tag="v1.2.0", digest=""))
    file = overlay(ctx)
    config = Config.model_validate(
        {"path": "repo/env/dev", "images": [{"image": "ghcr.io/acme/app", "tag": "v1.2.0"}]}
    )
    outputs = STEP.run(ctx, config)
    text = file.read_text()
    assert "# The overlay for dev." in text
    assert text.endswith(
        'images:\n- name: ghcr.io/acme/app\n  newTag: v1.2.0\n- name: zeta/other\n  newTag: "1.0"\n'
    )
    assert outputs == {
        "commitMessage": "Updated repo/env/dev/kustomization.yaml to use new image\n"
        "\n- ghcr.io/acme/app:v1.2.0"
    }


def test_without_images_every_freight_image_is_set(tmp_path):
    ctx = context(
        tmp_path,
        Image(repo_url="ghcr.io/acme/app", tag="v2.0.0", digest="sha256:" + "a" * 64),
        Image(repo_url="ghcr.io/acme/web", tag="", digest="sha256:" + "b" * 64),
    )
    file = overlay(ctx)
    STEP.run(ctx, Config.model_validate({"path": "repo/env/dev"}))
    text = file.read_text()
    assert "- name: ghcr.io/acme/app\n  newTag: v2.0.0\n" in text
    assert "- name: ghcr.io/acme/web\n  digest: sha256:" + "b" * 64 in text


def test_a_missing_kustomization_is_named(tmp_path):
    ctx = context(tmp_path, Image(repo_url="a/b", tag="v1", digest=""))
    (ctx.work_dir / "empty").mkdir()
    with pytest.raises(TerminalStepError, match="empty: no kustomization file"):
        STEP.run(ctx, Config.model_validate({"path": "empty"}))
