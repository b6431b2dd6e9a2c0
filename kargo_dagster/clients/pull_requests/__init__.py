"""Pull requests on GitHub, GitLab, Gitea, Bitbucket and Azure DevOps."""
