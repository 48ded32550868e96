"""Evaluation and benchmarks of recsys. Depends on recsys; recsys never imports it."""
