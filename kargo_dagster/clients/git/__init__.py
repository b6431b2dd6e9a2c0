"""The git command line: running it, mirrors, history, SSH."""
