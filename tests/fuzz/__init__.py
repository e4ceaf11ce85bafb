"""Seeded fuzz suite of every entry point (generators.py, drive.py; bench/fuzz.py at scale)."""
