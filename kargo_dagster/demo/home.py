"""The demo's DAGSTER_HOME: the embedded default instance, one promotion at a time per Stage.

The instance keeps its data in SQLite under the home, with every pool limited to one slot so
each Stage promotes one Freight at a time, no telemetry, no community dialog over the UI, and
runs that print INFO and above.
"""

from pathlib import Path

import dagster as dg
import yaml

# Sections every demo home gets, one written by an older demo included: the section, and the
# block appended when the file has none.
_SETTINGS: tuple[tuple[str, str], ...] = (
    (
        "nux",
        '# No "Join the Dagster community" dialog over the demo\'s UI.\nnux:\n  enabled: false\n',
    ),
    (
        "python_logs",
        "# Runs print INFO and above: at Dagster's default, DEBUG, every run repeats each of its\n"
        "# events in the demo's terminal. Dagster's events are all recorded either way.\n"
        "python_logs:\n  python_log_level: INFO\n",
    ),
)

INSTANCE_CONFIG = """\
# Written by `kargo-dagster demo`.
telemetry:
  enabled: false
concurrency:
  pools:
    # One promotion at a time per Stage: every Stage asset has its own pool.
    default_limit: 1
""" + "".join(block for _, block in _SETTINGS)


def prepare_home(home: Path) -> Path:
    """Create the demo's DAGSTER_HOME with its ``dagster.yaml``, keeping an existing one.

    An existing ``dagster.yaml`` keeps what it sets and gains the demo's sections it lacks.
    """
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_CONFIG)
    else:
        _merge_settings(config)
    # Create the instance's databases here, once: on a fresh home the webserver, the daemon
    # and their code servers would race to create them, and a schema stamped twice by
    # alembic leaves the instance unusable ("more than one head present").
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return home


def _merge_settings(config: Path) -> None:
    text = config.read_text()
    settings = yaml.safe_load(text)
    if settings is not None and not isinstance(settings, dict):
        return  # not an instance configuration: Dagster itself says what is wrong with it
    # Missing sections are appended, which keeps the file as it was written; a section the
    # file has is the user's choice.
    blocks = [block for section, block in _SETTINGS if section not in (settings or {})]
    if blocks:
        separator = "\n" if text and not text.endswith("\n") else ""
        config.write_text(text + separator + "".join(blocks))
