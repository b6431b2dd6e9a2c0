"""The Dagster layer: the only part of kargo_dagster that imports dagster."""
