"""Embedding: encoders that turn text into vectors, the vector index, and near-duplicate checks."""
