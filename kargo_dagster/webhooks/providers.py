"""Every kind of webhook receiver, by the ProjectConfig key that configures it.

The table is explicit: nothing registers itself when a module is imported.
"""

from collections.abc import Mapping

from kargo_dagster.webhooks import artifactory, azure, bitbucket, generic, gitea, github, gitlab
from kargo_dagster.webhooks.inbound import Provider
from kargo_dagster.webhooks.registries import DOCKERHUB, HARBOR, QUAY

__all__ = ["PROVIDERS"]

PROVIDERS: Mapping[str, Provider] = {
    provider.kind: provider
    for provider in (
        artifactory.PROVIDER,
        azure.PROVIDER,
        bitbucket.PROVIDER,
        DOCKERHUB,
        generic.PROVIDER,
        gitea.PROVIDER,
        github.PROVIDER,
        gitlab.PROVIDER,
        HARBOR,
        QUAY,
    )
}
