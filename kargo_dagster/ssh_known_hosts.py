"""The SSH host keys that git over SSH trusts.

A git remote reached over SSH proves who it is with its host key, and kargo-dagster only
talks to hosts whose key it was given: ``known_hosts`` lines (as ``ssh-keyscan`` prints
them, or copied from ``~/.ssh/known_hosts``) from the ``ssh_known_hosts`` setting of
``KargoResource`` and from the ``KARGO_DAGSTER_SSH_KNOWN_HOSTS`` environment variable. Both
apply to every SSH key, whichever source the key came from (the resource, the environment,
a Kubernetes Secret).
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from kargo_dagster.credentials import (
    SSH_KNOWN_HOSTS_ENV,
    Credentials,
    CredentialStore,
    CredentialType,
)


def known_hosts_lines(*texts: str) -> str:
    """The ``known_hosts`` lines of ``texts`` together, each once, comments and blanks dropped."""
    lines = [line.strip() for text in texts for line in text.splitlines()]
    kept = dict.fromkeys(line for line in lines if line and not line.startswith("#"))
    return "".join(f"{line}\n" for line in kept)


def known_hosts_from_env(environ: Mapping[str, str]) -> str:
    """The ``known_hosts`` lines of ``KARGO_DAGSTER_SSH_KNOWN_HOSTS``."""
    return known_hosts_lines(environ.get(SSH_KNOWN_HOSTS_ENV, ""))


@dataclass(frozen=True)
class KnownHostsCredentialStore:
    """Adds ``known_hosts`` lines to the SSH keys another store finds.

    Attributes:
        store: Where the credentials come from.
        known_hosts: The lines every SSH key is checked against, besides its own.
    """

    store: CredentialStore
    known_hosts: str

    def lookup(self, kind: CredentialType, repo_url: str) -> Credentials | None:
        """The other store's answer, with the known hosts added when it holds an SSH key."""
        found = self.store.lookup(kind, repo_url)
        if found is None or found.ssh_private_key is None:
            return found
        lines = known_hosts_lines(found.ssh_known_hosts, self.known_hosts)
        return dataclasses.replace(found, ssh_known_hosts=lines)
