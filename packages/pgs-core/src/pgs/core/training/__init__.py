"""Training: the three-stage trainer (Eqs. 11-13), its config, checkpoints and progress logging."""
