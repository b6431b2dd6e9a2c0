"""The Kubernetes API as kargo-dagster's clients use it: credentials, deadlines, errors, data,
custom objects (Argo Rollouts AnalysisTemplates and AnalysisRuns) and merge patches."""
