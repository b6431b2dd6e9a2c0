"""kargo-simple's manifests, copied and pointed at a local repository, for promotion tests."""

import shutil
from pathlib import Path

from tests.conftest import FIXTURES

EXAMPLE = FIXTURES / "kargo-examples" / "akuity" / "kargo-simple"
IMAGE = "ghcr.io/akuity/guestbook"
OVERLAY = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"


def local_copy(tmp_path: Path, repo_url: str) -> Path:
    """The example with its removed syntax fixed and its repository pointed at ``repo_url``."""
    copy = tmp_path / "kargo-simple"
    shutil.copytree(EXAMPLE, copy)
    task = copy / "kargo" / "promotiontask.yaml"
    text = task.read_text().replace("'open-pr'].prNumber", "'open-pr'].pr.id")
    task.write_text(text.replace("https://github.com/akuity/kargo-simple.git", repo_url))
    return copy
