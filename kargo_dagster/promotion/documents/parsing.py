"""Parsing YAML, JSON and TOML into plain values, the way Kargo's ``*-parse`` steps read them."""

import json
import tomllib
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kargo_dagster.errors import TerminalStepError


def parse_yaml(text: str, shown: str) -> Any:
    """The first YAML document in ``text`` (YAML 1.2, like Go's yaml.v3).

    Raises:
        TerminalStepError: The text is empty or not YAML.
    """
    if not text:
        raise TerminalStepError(f"could not parse empty YAML file {shown!r}")
    try:
        for document in YAML(typ="safe", pure=True).load_all(text):
            return document
    except YAMLError as error:
        raise TerminalStepError(f"could not parse YAML file {shown!r}: {error}") from error
    return None


def parse_json(text: str, shown: str) -> Any:
    """The JSON value in ``text``.

    Raises:
        TerminalStepError: The text is not JSON.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise TerminalStepError(f"could not parse JSON file {shown!r}: {error}") from error


def parse_toml(text: str, shown: str) -> Any:
    """The TOML document in ``text``.

    Raises:
        TerminalStepError: The text is empty or not TOML.
    """
    if not text:
        raise TerminalStepError(f"could not parse empty TOML file {shown!r}")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TerminalStepError(f"could not parse TOML file {shown!r}: {error}") from error
