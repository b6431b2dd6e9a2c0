"""A classic Helm chart repository that serves real chart archives, over HTTP or HTTPS.

``helm dependency update`` downloads the archives an ``index.yaml`` lists, so the test
repository serves both, with real digests: a
:class:`~kargo_dagster.testing.helm_repo.HelmRepoServer` with archives. It can demand HTTP
Basic authentication and, given a certificate (see :func:`self_signed_certificate`), speak
TLS; each recorded request tells whether it carried credentials.
"""

from pathlib import Path

from kargo_dagster.testing.helm_repo import HelmRepoServer
from kargo_dagster.testing.tls_certificate import self_signed_certificate

__all__ = ["ChartRepository", "self_signed_certificate"]


class ChartRepository(HelmRepoServer):
    """A chart repository on 127.0.0.1 serving its archives; use it as a context manager.

    Args:
        charts: Chart name → versions to serve (minimal charts made on the fly).
        username: With ``password``, require HTTP Basic authentication.
        password: The password to require.
        tls: ``(cert.pem, key.pem)`` to serve HTTPS with.
    """

    def __init__(
        self,
        charts: dict[str, list[str]],
        *,
        username: str | None = None,
        password: str | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        super().__init__(charts, username=username, password=password, tls=tls, archives=True)
