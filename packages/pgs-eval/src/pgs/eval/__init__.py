"""pgs-eval: Metrics, evaluators and reports (pgs.evaluators)."""
