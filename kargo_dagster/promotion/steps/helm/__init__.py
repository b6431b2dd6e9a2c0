"""The Helm steps (``helm-template``, ``helm-update-chart``) and chart dependency updates."""
