"""Finding the external programs some steps run: kubectl or kustomize, and helm.

A path configured in :class:`~kargo_dagster.promotion.step.ToolPaths` wins; otherwise the
program is looked up on ``PATH``. A missing program is a
:class:`~kargo_dagster.errors.TerminalStepError` naming it and saying how to install it,
since retrying will not make it appear.

Kargo links kustomize v5 and Helm into its controller; here ``kubectl kustomize`` (or a
standalone ``kustomize build``) and ``helm`` do the same work, so their versions are checked:
kustomize must be v5 or newer, as older releases read Kustomizations differently.
"""

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.step import ToolPaths
from kargo_dagster.redaction import redact_text

__all__ = [
    "INSTALL_HINT",
    "find_tool",
    "helm_major_version",
    "helm_program",
    "kustomize_command",
    "optional_helm_program",
    "run_tool",
]

INSTALL_HINT = (
    "install it with scripts/install-tools (kubectl 1.35 with kustomize v5, and helm 4, into "
    ".tools/bin) and put that directory on PATH, or configure the tool's path"
)

MIN_KUSTOMIZE_MAJOR = 5

_VERSION_TIMEOUT = 30.0
_KUSTOMIZE_VERSION = re.compile(r"v(\d+)\.(\d+)\.(\d+)")
_KUBECTL_KUSTOMIZE_VERSION = re.compile(r"Kustomize Version:\s*v(\d+)\.(\d+)\.(\d+)")


def find_tool(name: str, configured: str | None) -> str | None:
    """The program to run for ``name``: the configured path if it exists, else ``PATH``'s.

    Args:
        name: The program's name (``helm``).
        configured: The path from the tool settings, or None to look on ``PATH``.

    Returns:
        An absolute path, or None when the program is nowhere to be found.

    Raises:
        TerminalStepError: ``configured`` is set but names no executable.
    """
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise TerminalStepError(
                f"the configured {name} program {configured!r} is not an executable file; "
                + INSTALL_HINT
            )
        return str(Path(found).resolve())
    found = shutil.which(name)
    return str(Path(found).resolve()) if found else None


def _missing(name: str, purpose: str) -> TerminalStepError:
    return TerminalStepError(f"{name} is needed to {purpose} but was not found; {INSTALL_HINT}")


def helm_program(tools: ToolPaths, *, purpose: str = "render Helm charts") -> str:
    """The helm program.

    Raises:
        TerminalStepError: helm is not installed (the message says how to install it).
    """
    found = find_tool("helm", tools.helm)
    if found is None:
        raise _missing("helm", purpose)
    return found


def optional_helm_program(tools: ToolPaths) -> str | None:
    """The helm program if there is one (kustomize needs it only for ``helmCharts``)."""
    return find_tool("helm", tools.helm)


def helm_major_version(program: str) -> int | None:
    """The major version of a helm program (3, 4), or None when it cannot be told."""
    stat = Path(program).stat()
    return _major(program, ("version", "--short"), r"v(\d+)\.", stat.st_mtime_ns)


def kustomize_command(tools: ToolPaths) -> list[str]:
    """The command that builds a Kustomization, without the directory argument.

    ``kustomize build`` when a kustomize program is configured or on ``PATH``, else
    ``kubectl kustomize``. Either must bundle kustomize v5 or newer.

    Raises:
        TerminalStepError: Neither program is installed, or its kustomize is older than v5.
    """
    standalone = find_tool("kustomize", tools.kustomize)
    if standalone is not None and (tools.kustomize or not tools.kubectl):
        _check_kustomize_version(standalone, ("version",), _KUSTOMIZE_VERSION)
        return [standalone, "build"]
    kubectl = find_tool("kubectl", tools.kubectl)
    if kubectl is None:
        raise _missing("kubectl (or kustomize)", "build Kustomizations")
    _check_kustomize_version(kubectl, ("version", "--client"), _KUBECTL_KUSTOMIZE_VERSION)
    return [kubectl, "kustomize"]


def _check_kustomize_version(program: str, args: Sequence[str], pattern: re.Pattern[str]) -> None:
    stat = Path(program).stat()
    major = _major(program, tuple(args), pattern.pattern, stat.st_mtime_ns)
    if major is None:
        raise TerminalStepError(
            f"could not tell which kustomize version {program} bundles; kustomize "
            f"v{MIN_KUSTOMIZE_MAJOR} or newer is needed: {INSTALL_HINT}"
        )
    if major < MIN_KUSTOMIZE_MAJOR:
        raise TerminalStepError(
            f"{program} bundles kustomize v{major}, but v{MIN_KUSTOMIZE_MAJOR} or newer is "
            f"needed; {INSTALL_HINT}"
        )


@functools.cache
def _major(program: str, args: tuple[str, ...], pattern: str, _mtime_ns: int) -> int | None:
    # Cached per program and modification time: a promotion runs many builds, and
    # replacing the binary (scripts/install-tools) must be noticed.
    try:
        result = subprocess.run(
            [program, *args],
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, result.stdout + result.stderr)
    return int(match.group(1)) if match else None


# Enough of a failing tool's stderr to see what went wrong, not a whole debug dump.
_MAX_ERROR_CHARS = 4000


def run_tool(
    argv: Sequence[str],
    *,
    action: str,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run an external tool and return what it printed on stdout.

    Helm's configuration, cache and data directories point into a fresh temporary directory,
    so a step neither reads nor changes the repositories and registry logins of the account
    it runs as (Kargo's library calls are just as isolated).

    Args:
        argv: The program and its arguments.
        action: What the call does, for error messages (``build Kustomization env/dev``).
        timeout: Seconds before the tool is killed.
        cwd: Where to run it.
        env: Extra environment variables.

    Raises:
        RetryableStepError: The tool failed or timed out (Kargo reports these as Errored);
            the message holds the end of its stderr, with URL credentials masked.
    """
    with tempfile.TemporaryDirectory(prefix="kargo-dagster-tool-") as home:
        environment = {
            **os.environ,
            "HELM_CONFIG_HOME": str(Path(home, "config")),
            "HELM_CACHE_HOME": str(Path(home, "cache")),
            "HELM_DATA_HOME": str(Path(home, "data")),
            # Rendering never needs a cluster: make sure none is contacted by accident.
            "KUBECONFIG": str(Path(home, "kubeconfig")),
            "LC_ALL": "C",
            **(env or {}),
        }
        try:
            result = subprocess.run(
                list(argv),
                cwd=cwd,
                env=environment,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise RetryableStepError(f"failed to {action}: timed out after {timeout:g}s") from error
        except OSError as error:
            raise TerminalStepError(f"failed to {action}: {error.strerror}") from error
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        if len(detail) > _MAX_ERROR_CHARS:
            detail = "..." + detail[-_MAX_ERROR_CHARS:]
        raise RetryableStepError(f"failed to {action}: {redact_text(detail)}")
    return result.stdout
