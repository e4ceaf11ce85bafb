"""Tests of the wire dialects (app/dialects)."""
