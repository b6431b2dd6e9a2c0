"""Editing and reading the documents promotion steps change: YAML, JSON, TOML, files."""
