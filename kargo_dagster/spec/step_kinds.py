"""The promotion step kinds Kargo v1.11.2 ships (one per step JSON schema)."""

__all__ = ["REMOVED_STEP_KINDS", "STEP_KINDS"]

# The names of contracts/kargo/v1.11.2/step-schemas/*-config.json; argocd-common.json and
# common.json hold shared definitions, not steps.
STEP_KINDS: frozenset[str] = frozenset(
    {
        "argocd-update",
        "argocd-wait",
        "compose-output",
        "copy",
        "delete",
        "fail",
        "file-write",
        "git-clear",
        "git-clone",
        "git-commit",
        "git-merge-pr",
        "git-open-pr",
        "git-push",
        "git-tag",
        "git-wait-for-pr",
        "github-push",
        "helm-template",
        "helm-update-chart",
        "http",
        "http-download",
        "json-parse",
        "json-update",
        "kustomize-build",
        "kustomize-set-image",
        "oci-download",
        "oci-push",
        "set-freight-alias",
        "set-metadata",
        "toml-parse",
        "toml-update",
        "untar",
        "yaml-merge",
        "yaml-parse",
        "yaml-update",
    }
)

# Step kinds Kargo removed, with what to use instead.
REMOVED_STEP_KINDS: dict[str, str] = {
    "helm-update-image": (
        "helm-update-image was removed in Kargo v1.3; use yaml-update (or helm-template "
        "setValues) with ${{ imageFrom(<repo>).Tag }} instead"
    ),
}
