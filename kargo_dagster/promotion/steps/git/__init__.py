"""The git steps (``git-clone`` to ``git-wait-for-pr``, ``github-push``) and the work trees
they share."""
