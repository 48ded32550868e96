"""Serving: what one request or one batch reads, built once, and the lists made from it."""
