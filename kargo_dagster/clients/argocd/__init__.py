"""Argo CD Applications, through the Kubernetes API or Argo CD's REST API."""
