"""``untar``: extract a tar archive (plain or compressed) into the work directory.

As Kargo's ``untar``: the archive is extracted into a fresh directory first and then replaces
``outPath`` as a whole, so a failed extraction leaves ``outPath`` as it was;
``stripComponents`` drops leading path components (entries with no more components than
that are skipped); ``ignore`` holds gitignore-style patterns, relative to the archive's root
after stripping, and ``.git`` is always ignored; a file may hold at most 50 MiB and the
archive 100 MiB in all. Compression (gzip, bzip2, xz) is recognised from the content.

An archive is untrusted input, so it is refused as a whole, naming the entry, when an entry
would land outside ``outPath`` (an absolute name, a ``..`` component), when a symbolic or
hard link would point outside it, or when it holds a device file or FIFO. Unlike Kargo,
entries named ``./x`` (what ``tar -C dir .`` writes) are extracted as ``x`` rather than
skipped, and hard links to files extracted earlier are kept.
"""

import os
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import IO

from pydantic import Field

from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.documents.ignore_rules import IgnoreRules
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.schema_types import Integer

__all__ = ["MAX_FILE_BYTES", "MAX_TOTAL_BYTES", "STEP", "Config", "Untar"]

MAX_TOTAL_BYTES = 100 << 20
MAX_FILE_BYTES = 50 << 20
_CHUNK = 64 << 10
_DIRECTORY_MODE = 0o750


class Config(StepConfig):
    """``untar``'s configuration."""

    in_path: str = Field(min_length=1)
    out_path: str = Field(min_length=1)
    strip_components: Integer | None = Field(default=None, ge=0)
    ignore: str | None = Field(default=None, min_length=1)


class _Extraction:
    """One archive being extracted under ``root``, entry by entry."""

    def __init__(self, archive: tarfile.TarFile, root: Path, config: Config, label: str):
        self.archive = archive
        self.root = root
        self.strip = config.strip_components or 0
        self.rules = IgnoreRules(config.ignore)
        self.label = label
        self.total = 0
        self.links: list[tuple[str, Path]] = []

    def refuse(self, member: tarfile.TarInfo, why: str) -> TerminalStepError:
        return TerminalStepError(f"refusing to extract {self.label}: entry {member.name!r} {why}")

    def relative_name(self, member: tarfile.TarInfo) -> str | None:
        """Where the entry goes under the root, or None when it is skipped."""
        name = member.name
        if name.startswith("/"):
            raise self.refuse(member, "has an absolute path")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise self.refuse(member, "leaves the output directory ('..')")
        if len(parts) <= self.strip:
            return None
        parts = parts[self.strip :]
        prefixes = ["/".join(parts[: depth + 1]) for depth in range(len(parts))]
        if any(self.rules.ignored(p, is_dir=True) for p in prefixes[:-1]) or self.rules.ignored(
            prefixes[-1], is_dir=member.isdir()
        ):
            return None
        return prefixes[-1]

    def inside(self, path: str | Path) -> bool:
        """Whether ``path`` (resolved, links followed) is the root or under it."""
        resolved = Path(os.path.realpath(path))
        return resolved == self.root or self.root in resolved.parents

    def prepare_parent(self, member: tarfile.TarInfo, target: Path) -> None:
        # Checked before anything is made: names hold no "..", so a parent that resolves
        # inside now is created inside.
        if not self.inside(target.parent):
            raise self.refuse(member, "would be written through a link that leaves it")
        target.parent.mkdir(parents=True, exist_ok=True, mode=_DIRECTORY_MODE)
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            # A later entry replaces an earlier one; never write through a link.
            target.unlink()

    def extract(self, member: tarfile.TarInfo) -> None:
        if member.ischr() or member.isblk() or member.isfifo():
            raise self.refuse(member, "is a device file or FIFO")
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            return  # Other entry kinds (GNU sparse headers, volume labels) carry no file.
        relative = self.relative_name(member)
        if relative is None:
            return
        target = self.root / relative
        if member.isdir():
            self.prepare_parent(member, target)
            target.mkdir(exist_ok=True, mode=_DIRECTORY_MODE)
            if not self.inside(target):
                raise self.refuse(member, "would be written through a link that leaves it")
            return
        self.prepare_parent(member, target)
        if member.issym():
            self.symlink(member, target)
        elif member.islnk():
            self.hardlink(member, target)
        else:
            self.write(member, target)

    def symlink(self, member: tarfile.TarInfo, target: Path) -> None:
        link = member.linkname
        if not link or link.startswith("/"):
            raise self.refuse(member, f"is a link to an absolute path ({link!r})")
        if not self.inside(target.parent / link):
            raise self.refuse(member, f"is a link that leaves the output directory ({link!r})")
        os.symlink(link, target)
        self.links.append((member.name, target))

    def hardlink(self, member: tarfile.TarInfo, target: Path) -> None:
        # A hard link names an earlier entry of the archive, relative to the archive root.
        source_name = posixpath.normpath(member.linkname)
        parts = source_name.split("/")
        if source_name.startswith("/") or ".." in parts or len(parts) <= self.strip:
            raise self.refuse(member, f"is a hard link outside the archive ({member.linkname!r})")
        source = self.root / "/".join(parts[self.strip :])
        if source.is_symlink() or not source.is_file() or not self.inside(source):
            raise self.refuse(
                member, f"is a hard link to {member.linkname!r}, which is not a file extracted"
            )
        os.link(source, target)

    def write(self, member: tarfile.TarInfo, target: Path) -> None:
        if member.size > MAX_FILE_BYTES:
            raise TerminalStepError(
                f"extraction of {self.label} aborted: file {member.name!r} exceeds the size "
                f"limit of {MAX_FILE_BYTES} bytes"
            )
        if self.total + member.size > MAX_TOTAL_BYTES:
            raise TerminalStepError(
                f"extraction of {self.label} aborted: the total size would exceed the limit "
                f"of {MAX_TOTAL_BYTES} bytes"
            )
        source = self.archive.extractfile(member)
        if source is None:
            return
        mode = (member.mode & 0o777) or 0o600
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(descriptor, "wb") as stream:
            self.total += _copy(source, stream, member.size)
        if member.mtime:
            os.utime(target, (member.mtime, member.mtime))

    def check_links(self) -> None:
        """Refuse links that, now that every entry exists, resolve outside the root."""
        for name, link in self.links:
            if link.is_symlink() and not self.inside(link):
                raise TerminalStepError(
                    f"refusing to extract {self.label}: entry {name!r} is a link that leaves "
                    "the output directory"
                )


def _copy(source: IO[bytes], stream: IO[bytes], size: int) -> int:
    copied = 0
    while copied < size:
        chunk = source.read(min(_CHUNK, size - copied))
        if not chunk:
            break
        stream.write(chunk)
        copied += len(chunk)
    return copied


def _replace(staging: Path, target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True, mode=_DIRECTORY_MODE)
    staging.rename(target)


class Untar(StepKind[Config]):
    """Extract a tar archive."""

    name = "untar"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Extract ``inPath`` into ``outPath``, replacing what was there; no outputs."""
        source = ctx.path(config.in_path)
        target = ctx.path(config.out_path)
        if target == ctx.work_dir.resolve():
            raise TerminalStepError(
                "outPath must name a directory inside the work directory, not the work "
                "directory itself"
            )
        if not source.is_file():
            raise TerminalStepError(f"tar file {config.in_path!r} does not exist")
        staging = Path(tempfile.mkdtemp(prefix=".untar-", dir=ctx.work_dir)).resolve()
        label = repr(config.in_path)
        try:
            with tarfile.open(source, mode="r:*") as archive:
                extraction = _Extraction(archive, staging, config, label)
                for member in archive:
                    extraction.extract(member)
                extraction.check_links()
            _replace(staging, target)
        except (tarfile.TarError, EOFError) as error:
            raise TerminalStepError(f"failed to read tar file {label}: {error}") from error
        except OSError as error:
            raise RetryableStepError(
                f"failed to extract tar file {label}: {error.strerror or error}"
            ) from error
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        return {}


STEP = Untar()
