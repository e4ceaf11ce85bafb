"""Engines: the broker, history and presence behind a node (memory or Redis)."""
