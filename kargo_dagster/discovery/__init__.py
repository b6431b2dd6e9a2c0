"""Artifact discovery for Warehouse subscriptions: images, Helm charts and git commits."""
