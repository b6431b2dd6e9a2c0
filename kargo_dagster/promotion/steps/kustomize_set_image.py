"""``kustomize-set-image``: point a Kustomization's ``images`` at the promoted versions.

Edits the kustomization file itself (no kustomize binary), as Kargo does: each configured
image replaces the entry with the same name (``name``, else the subscribed ``image``), the
list is kept sorted by name, and the rest of the file is left as it was. With no ``images``
configured, every image of the Freight collection is set, by its repository URL.
"""

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.documents.files import read_text, write_text
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput

# The file names kustomize recognises, in its order of preference.
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


class ImageUpdate(StepConfig):
    """One image to set; ``tag`` and ``digest`` are mutually exclusive."""

    image: str = Field(min_length=1)
    name: str = ""
    new_name: str = ""
    tag: str = ""
    digest: str = ""

    @model_validator(mode="after")
    def _one_version(self) -> "ImageUpdate":
        if bool(self.tag) == bool(self.digest):
            raise ValueError("exactly one of tag and digest must be set")
        return self


class Config(StepConfig):
    """``kustomize-set-image``'s configuration."""

    path: str = Field(min_length=1)
    images: list[ImageUpdate] | None = None


def _kustomization(directory: Path, shown: str) -> tuple[Path, str]:
    found = [directory / name for name in KUSTOMIZATION_FILES if (directory / name).is_file()]
    if not found:
        raise TerminalStepError(
            f"{shown}: no kustomization file (looked for {', '.join(KUSTOMIZATION_FILES)})"
        )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise TerminalStepError(f"{shown}: found several kustomization files ({names}); keep one")
    return found[0], f"{shown.rstrip('/')}/{found[0].name}"


def _targets(ctx: StepContext, config: Config) -> list[ImageUpdate]:
    if config.images is not None:
        return list(config.images)
    images: dict[str, ImageUpdate] = {}
    for origin, freight in ctx.promotion.collection.items():
        for image in freight.images:
            if image.repo_url in images:
                raise TerminalStepError(
                    f"image {image.repo_url} comes from more than one Warehouse (including "
                    f"{origin}); list the images to set under 'images' with their versions"
                )
            version = {"digest": image.digest} if not image.tag else {"tag": image.tag}
            images[image.repo_url] = ImageUpdate(image=image.repo_url, **version)
    if not images:
        raise TerminalStepError("the Freight being promoted has no images to set")
    return list(images.values())


def _entry(update: ImageUpdate, existing: CommentedMap | None) -> CommentedMap:
    entry = CommentedMap()
    entry["name"] = update.name or update.image
    new_name = update.new_name or (existing or {}).get("newName")
    if new_name:
        entry["newName"] = new_name
    if update.tag:
        entry["newTag"] = update.tag
    else:
        entry["digest"] = update.digest
    return entry


def describe(update: ImageUpdate) -> str:
    """How the commit message names one image: ``name[:tag][@digest]``."""
    shown = update.new_name or update.name or update.image
    return (
        shown
        + (f":{update.tag}" if update.tag else "")
        + (f"@{update.digest}" if update.digest else "")
    )


class KustomizeSetImage(StepKind[Config]):
    """Set image versions in a Kustomization."""

    name = "kustomize-set-image"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Rewrite the ``images`` list and describe the change in ``commitMessage``."""
        file, shown = _kustomization(ctx.path(config.path), config.path)
        yaml = YAML()
        yaml.preserve_quotes = True
        yaml.indent(mapping=2, sequence=2, offset=0)
        yaml.width = 4096  # digests and long names stay on one line
        try:
            document: Any = yaml.load(read_text(file, shown)) or CommentedMap()
        except YAMLError as error:
            raise TerminalStepError(f"{shown} is not valid YAML: {error}") from error
        if not isinstance(document, CommentedMap):
            raise TerminalStepError(f"{shown} must hold a mapping")
        current = document.get("images") or CommentedSeq()
        by_name: dict[str, CommentedMap] = {
            str(entry.get("name")): entry for entry in current if isinstance(entry, CommentedMap)
        }
        updates = _targets(ctx, config)
        for update in updates:
            name = update.name or update.image
            by_name[name] = _entry(update, by_name.get(name))
        document["images"] = CommentedSeq(by_name[name] for name in sorted(by_name))
        write_text(file, shown, _dump(yaml, document))
        plural = "image" if len(updates) == 1 else "images"
        lines = "".join(f"\n- {describe(u)}" for u in updates)
        return {"commitMessage": f"Updated {shown} to use new {plural}\n{lines}"}


def _dump(yaml: YAML, document: Any) -> str:
    from io import StringIO

    buffer = StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


STEP = KustomizeSetImage()
