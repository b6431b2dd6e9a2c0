"""``python -m kargo_dagster.cli``: the ``kargo-dagster`` command line."""

from kargo_dagster.cli import entry

entry()
