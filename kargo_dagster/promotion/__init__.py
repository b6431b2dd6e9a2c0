"""Promotions: Kargo's step engine and its built-in steps (pure: never imports dagster)."""
