"""The I/O seams: OCI registries, Helm repositories, git remotes, Kubernetes and Argo CD."""
