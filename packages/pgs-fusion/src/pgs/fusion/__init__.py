"""pgs-fusion: Fusion modules: MGF and its baselines (pgs.fusion)."""
