"""The built-in steps kargo-dagster provides, listed explicitly (no import side effects)."""

from kargo_dagster.promotion.registry import StepRegistry
from kargo_dagster.promotion.steps import (
    compose_output,
    copy_files,
    delete,
    fail,
    file_write,
    http_download,
    http_request,
    json_parse,
    json_update,
    kustomize_build,
    kustomize_set_image,
    oci_download,
    oci_push,
    set_freight_alias,
    set_metadata,
    toml_parse,
    toml_update,
    untar,
    yaml_merge,
    yaml_parse,
    yaml_update,
)
from kargo_dagster.promotion.steps.argocd import (
    update as argocd_update,
)
from kargo_dagster.promotion.steps.argocd import (
    wait as argocd_wait,
)
from kargo_dagster.promotion.steps.git import (
    clear as git_clear,
)
from kargo_dagster.promotion.steps.git import (
    clone as git_clone,
)
from kargo_dagster.promotion.steps.git import (
    commit as git_commit,
)
from kargo_dagster.promotion.steps.git import (
    github_push,
)
from kargo_dagster.promotion.steps.git import (
    merge_pr as git_merge_pr,
)
from kargo_dagster.promotion.steps.git import (
    open_pr as git_open_pr,
)
from kargo_dagster.promotion.steps.git import (
    push as git_push,
)
from kargo_dagster.promotion.steps.git import (
    tag as git_tag,
)
from kargo_dagster.promotion.steps.git import (
    wait_for_pr as git_wait_for_pr,
)
from kargo_dagster.promotion.steps.helm import (
    template as helm_template,
)
from kargo_dagster.promotion.steps.helm import (
    update_chart as helm_update_chart,
)

BUILTIN_STEPS = (
    argocd_update.STEP,
    argocd_wait.STEP,
    compose_output.STEP,
    copy_files.STEP,
    delete.STEP,
    fail.STEP,
    file_write.STEP,
    git_clear.STEP,
    git_clone.STEP,
    git_commit.STEP,
    git_merge_pr.STEP,
    git_open_pr.STEP,
    git_push.STEP,
    git_tag.STEP,
    git_wait_for_pr.STEP,
    github_push.STEP,
    helm_template.STEP,
    helm_update_chart.STEP,
    http_download.STEP,
    http_request.STEP,
    json_parse.STEP,
    json_update.STEP,
    kustomize_build.STEP,
    kustomize_set_image.STEP,
    oci_download.STEP,
    oci_push.STEP,
    set_freight_alias.STEP,
    set_metadata.STEP,
    toml_parse.STEP,
    toml_update.STEP,
    untar.STEP,
    yaml_merge.STEP,
    yaml_parse.STEP,
    yaml_update.STEP,
)


def builtin_registry() -> StepRegistry:
    """A registry of every built-in step."""
    return StepRegistry(BUILTIN_STEPS)
