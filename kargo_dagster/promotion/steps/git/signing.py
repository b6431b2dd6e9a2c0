"""Signing commits and tags with the GPG key ``git-clone``'s ``author.signingKey`` holds.

The key is imported into a GnuPG home of its own, private to the promotion and removed when
it ends, so it never reaches the worker's keyring and no other promotion can use it. The
checkouts are then configured to sign every commit and annotated tag with it through a small
``gpg`` wrapper naming that home (git runs ``gpg.program`` without our environment). A
checkout configured without a key is set not to sign, so a reused checkout never tries a key
an earlier promotion had.

Kargo takes the key as an ASCII-armored private key without a passphrase; one that needs a
passphrase is refused when it is imported, not at the first commit.
"""

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from kargo_dagster.errors import TerminalStepError

__all__ = ["UNSIGNED", "SigningKeyring"]

UNSIGNED: dict[str, str] = {"commit.gpgsign": "false", "tag.gpgsign": "false"}
"""The checkout settings that turn signing off."""

_FIELD = "author.signingKey"
_TIMEOUT = 60.0


class SigningKeyring:
    """A private GnuPG home holding one signing key."""

    def __init__(self, home: Path, fingerprint: str, gpg: str) -> None:
        self.home = home
        self.fingerprint = fingerprint
        self._gpg = gpg
        self._program = home / "gpg"

    @classmethod
    def import_key(cls, armored: str, *, gpg: str = "gpg") -> "SigningKeyring":
        """Import ``armored`` into a new private home and check that it can sign.

        Raises:
            TerminalStepError: gpg is missing, or the text is not a private key that signs
                without a passphrase. The message never holds the key.
        """
        if shutil.which(gpg) is None:
            raise TerminalStepError(f"{_FIELD}: signing commits needs gpg, which is not installed")
        # A short path under the system's temporary directory: gpg-agent's socket lives in
        # the home, and a Unix socket path may not exceed 107 bytes.
        home = Path(tempfile.mkdtemp(prefix="kd-gpg-"))
        home.chmod(0o700)
        keyring = cls(home, "", gpg)
        try:
            keyring._run(["--import"], armored, "is not a GPG private key gpg can import")
            keyring.fingerprint = keyring._secret_fingerprint()
            # Trusted ultimately, as Kargo does, so that git reports the key's own commits as
            # good ("G"): github-push has GitHub sign only commits a trusted key signed.
            keyring._run(
                ["--import-ownertrust"], f"{keyring.fingerprint}:6:\n", "cannot be trusted"
            )
            keyring._run(
                [
                    "--pinentry-mode",
                    "error",
                    "--local-user",
                    keyring.fingerprint,
                    "--armor",
                    "--detach-sign",
                ],
                "kargo-dagster",
                "cannot sign without a passphrase; give a key that has none, as Kargo requires",
            )
            keyring._program.write_text(
                f'#!/bin/sh\nGNUPGHOME={shlex.quote(str(home))} exec {shlex.quote(gpg)} "$@"\n'
            )
            keyring._program.chmod(0o700)
        except BaseException:
            keyring.close()
            raise
        return keyring

    def git_settings(self) -> dict[str, str]:
        """The checkout settings that sign every commit and annotated tag with the key."""
        return {
            "user.signingkey": self.fingerprint,
            "commit.gpgsign": "true",
            "tag.gpgsign": "true",
            "gpg.format": "openpgp",
            "gpg.program": str(self._program),
        }

    def close(self) -> None:
        """Stop the home's gpg-agent and remove the home with the key."""
        if self.home.exists():
            subprocess.run(
                ["gpgconf", "--kill", "all"],
                env=self._environment(),
                capture_output=True,
                check=False,
                timeout=_TIMEOUT,
            )
            shutil.rmtree(self.home, ignore_errors=True)

    def _secret_fingerprint(self) -> str:
        listed = self._run(["--with-colons", "--list-secret-keys"], None, "cannot be listed")
        seen_secret = False
        for line in listed.splitlines():
            fields = line.split(":")
            if fields[0] == "sec":
                seen_secret = True
            elif fields[0] == "fpr" and seen_secret:
                return fields[9]
        raise TerminalStepError(f"{_FIELD}: holds a public key only; give the private key")

    def _run(self, args: list[str], given: str | None, problem: str) -> str:
        try:
            done = subprocess.run(
                [self._gpg, "--batch", "--no-tty", *args],
                input=given,
                env=self._environment(),
                capture_output=True,
                text=True,
                check=False,
                timeout=_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise TerminalStepError(f"{_FIELD}: gpg did not answer in {_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            # gpg reads the key from stdin and never echoes it; its last line says what failed.
            last = [line for line in done.stderr.splitlines() if line.strip()][-1:]
            detail = last[0].strip() if last else ""
            raise TerminalStepError(f"{_FIELD}: {problem}" + (f" ({detail})" if detail else ""))
        return done.stdout

    def _environment(self) -> dict[str, str]:
        return {**os.environ, "GNUPGHOME": str(self.home)}
