"""A self-signed certificate for ``127.0.0.1``, for the fakes that speak HTTPS.

A client trusts it when told to (``ssl.create_default_context(cafile=cert)`` for httpx,
``SSL_CERT_FILE`` for Go tools such as helm), which is what tests of TLS handling need: a real
handshake with a certificate nobody else would accept.

Examples:
    >>> cert, key = self_signed_certificate(tmp_path)  # doctest: +SKIP
    >>> trusted = ssl.create_default_context(cafile=cert)  # doctest: +SKIP
    >>> with HelmRepoServer({"app": ["1.0.0"]}, tls=(cert, key)) as repo:  # doctest: +SKIP
    ...     httpx.get(repo.index_url, verify=trusted).status_code
    200
"""

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["self_signed_certificate"]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, valid for a day, and its key, as ``(cert.pem, key.pem)``
    written in ``directory``.

    It is its own certificate authority, so the certificate file is also what a client
    trusts.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file
