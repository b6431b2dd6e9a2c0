"""Verification of promoted Freight: Argo CD health and Argo Rollouts analysis, no Dagster."""
