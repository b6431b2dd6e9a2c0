"""The Kubernetes API as kargo-dagster's clients use it: credentials, deadlines, errors, data."""
