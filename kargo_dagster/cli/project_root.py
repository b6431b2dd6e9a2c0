"""Where the command line finds the project's files when it is not told.

Commands may run from any directory inside the project: the project root is the nearest
directory, from the current one up, holding ``workspace.yaml``, ``definitions.py`` or a
``pyproject.toml`` with a ``[tool.dg]`` table. Defaults (the manifests, the code location
file, the workspace) are resolved against it; paths given explicitly keep their ordinary
meaning, relative to the current directory.

In a ``dg`` project the manifests are the ``path`` of its ``kargo_dagster.KargoProject``
Component (relative to the folder of that ``defs.yaml``), and the code location is the
project's ``<root_module>.definitions``.
"""

import importlib
import importlib.util
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from kargo_dagster.errors import KargoDagsterError

if TYPE_CHECKING:
    import dagster as dg

__all__ = ["COMPONENT_TYPE", "ProjectRoot", "find_root", "load_defs"]

COMPONENT_TYPE = "kargo_dagster.KargoProject"
# The manifests' folder in a project without Components (the layout `kargo-dagster demo` and
# the README use).
MANIFESTS_DIR = "stages"
# Folders a defs.yaml of the project's own is never in.
_SKIPPED = {"node_modules", "__pycache__", "build", "dist"}


@dataclass(frozen=True)
class ProjectRoot:
    """A project root and what the command line takes from it by default.

    Attributes:
        path: The root directory.
        dg: Whether it is a ``dg`` project (``[tool.dg]`` in its ``pyproject.toml``).
        root_module: The ``dg`` project's root module, if it names one.
    """

    path: Path
    dg: bool = False
    root_module: str | None = None

    def manifests(self) -> Path:
        """The Kargo manifests: the KargoProject Component's ``path``, else ``stages/``.

        Raises:
            KargoDagsterError: None found (the message says where it looked), or several
                Components name different manifests.
        """
        if self.dg:
            found = sorted(set(_component_paths(self.path)))
            if len(found) == 1:
                return found[0]
            if found:
                listed = ", ".join(str(p) for p in found)
                raise KargoDagsterError(
                    f"{len(found)} {COMPONENT_TYPE} Components in {self.path} name different "
                    f"manifests ({listed}): choose one with --path"
                )
        default = self.path / MANIFESTS_DIR
        if default.exists():
            return default
        components = f"no {COMPONENT_TYPE} defs.yaml and " if self.dg else ""
        raise KargoDagsterError(
            f"no Kargo manifests in the project at {self.path}: {components}no {MANIFESTS_DIR}/ "
            "there; give --path"
        )

    def definitions(self) -> Path:
        """The code location file: ``definitions.py`` at the root, else, in a ``dg``
        project, its root module's ``definitions.py``."""
        candidates = [self.path / "definitions.py"]
        if self.root_module:
            module = Path(*self.root_module.split("."))
            candidates += [
                self.path / "src" / module / "definitions.py",
                self.path / module / "definitions.py",
            ]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        return candidates[0]

    def workspace(self) -> Path:
        """The workspace file ``dagster dev -w`` reads."""
        return self.path / "workspace.yaml"


def find_root(start: Path | None = None) -> ProjectRoot:
    """The project root holding ``start`` (default: the current directory).

    Raises:
        KargoDagsterError: No directory from ``start`` up holds a marker; the message says
            where the search began and what it looked for.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        dg, root_module = _dg_project(folder / "pyproject.toml")
        if dg:
            return ProjectRoot(folder, dg=True, root_module=root_module)
        if (folder / "workspace.yaml").is_file():
            return ProjectRoot(folder)
        if (folder / "definitions.py").is_file():
            # A dg project's package holds a definitions.py too: the project is the dg one
            # above it, if there is one.
            return _dg_root_above(folder) or ProjectRoot(folder)
    raise KargoDagsterError(
        f"no project found from {start} up to {start.anchor}: none of these directories holds "
        "workspace.yaml, definitions.py or a pyproject.toml with [tool.dg]; run from inside "
        "the project, or give --path (and --definitions)"
    )


def load_defs(path: str | None) -> "dg.Definitions":
    """The ``defs`` of the code location file ``path`` (as ``dagster dev -f`` would load it),
    by default the project's; in a ``dg`` project, its ``@dg.definitions`` function's."""
    import dagster as dg

    root = find_root() if path is None else None
    file = Path(path).resolve() if path is not None else root.definitions() if root else None
    if file is None or not file.is_file():
        where = f" in the project at {root.path}" if root else ""
        raise KargoDagsterError(f"no definitions file {file or path}{where}: give --definitions")
    package = _package_of(file, root)
    if package is not None:
        # A dg project's definitions load its defs folder by module name: import them as
        # `dg` does, with the project's source folder on the path.
        sys.path.insert(0, str(package[0]))
        module = importlib.import_module(package[1])
    else:
        spec = importlib.util.spec_from_file_location("kargo_dagster_user_definitions", file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    defs = getattr(module, "defs", None)
    if not isinstance(defs, dg.Definitions) and callable(defs):
        defs = defs()  # `@dg.definitions def defs(): ...`
    if not isinstance(defs, dg.Definitions):
        raise KargoDagsterError(f"{file} defines no `defs = dg.Definitions(...)`")
    return defs


def _package_of(file: Path, root: ProjectRoot | None) -> tuple[Path, str] | None:
    """For a dg project's ``<root_module>/definitions.py``: its import root and module."""
    if root is None or not root.root_module:
        return None
    for base in (root.path / "src", root.path):
        module = base / Path(*root.root_module.split(".")) / "definitions.py"
        if module == file:
            return base, f"{root.root_module}.definitions"
    return None


def _dg_root_above(folder: Path) -> ProjectRoot | None:
    for above in folder.parents:
        dg, root_module = _dg_project(above / "pyproject.toml")
        if dg:
            return ProjectRoot(above, dg=True, root_module=root_module)
    return None


def _dg_project(pyproject: Path) -> tuple[bool, str | None]:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False, None
    table = data.get("tool", {}).get("dg")
    if not isinstance(table, dict):
        return False, None
    module = table.get("project", {}).get("root_module")
    return True, module if isinstance(module, str) else None


def _component_paths(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(
            name for name in subfolders if not name.startswith(".") and name not in _SKIPPED
        )
        if "defs.yaml" not in files:
            continue
        defs_yaml = Path(folder) / "defs.yaml"
        try:
            documents = list(yaml.safe_load_all(defs_yaml.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # `dg check defs` reports a broken defs.yaml; here it names nothing
        for document in documents:
            if isinstance(document, dict) and document.get("type") == COMPONENT_TYPE:
                attributes = document.get("attributes") or {}
                path = attributes.get("path", ".") if isinstance(attributes, dict) else "."
                found.append((Path(folder) / str(path)).resolve())
    return found
