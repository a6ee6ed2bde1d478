"""pgs-density: Densify/prune operations and density-control strategies (pgs.density)."""
