"""The Argo CD steps (``argocd-update``, ``argocd-wait``) and what only they use."""
