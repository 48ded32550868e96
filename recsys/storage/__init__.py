"""Storage: the one place that knows how records are kept (all SQL lives here)."""
