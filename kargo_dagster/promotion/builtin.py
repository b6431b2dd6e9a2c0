"""The built-in steps kargo-dagster provides, listed explicitly (no import side effects)."""

from kargo_dagster.promotion.registry import StepRegistry
from kargo_dagster.promotion.steps import (
    compose_output,
    copy_files,
    delete,
    fail,
    file_write,
    git_clear,
    git_clone,
    git_commit,
    git_merge_pr,
    git_open_pr,
    git_push,
    git_tag,
    git_wait_for_pr,
    helm_template,
    helm_update_chart,
    http_request,
    json_parse,
    json_update,
    kustomize_build,
    kustomize_set_image,
    set_freight_alias,
    set_metadata,
    toml_parse,
    toml_update,
    yaml_merge,
    yaml_parse,
    yaml_update,
)

BUILTIN_STEPS = (
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
    helm_template.STEP,
    helm_update_chart.STEP,
    http_request.STEP,
    json_parse.STEP,
    json_update.STEP,
    kustomize_build.STEP,
    kustomize_set_image.STEP,
    set_freight_alias.STEP,
    set_metadata.STEP,
    toml_parse.STEP,
    toml_update.STEP,
    yaml_merge.STEP,
    yaml_parse.STEP,
    yaml_update.STEP,
)


def builtin_registry() -> StepRegistry:
    """A registry of every built-in step."""
    return StepRegistry(BUILTIN_STEPS)
