"""Engines: the broker, history and presence behind a node (memory or Redis)."""
from __future__ import annotations

from app.core.engine import Engine
from app.options import Options


def make_engine(options: Options) -> Engine:
    """The engine ``options.engine`` names: ``"memory"`` (default) or ``"redis"``.

    Raises ValueError for any other name (config checking reports it)."""
    kind = options.engine.lower()
    if kind == "memory":
        from app.engines.memory import MemoryEngine

        return MemoryEngine(options)
    if kind == "redis":
        from app.engines.redis import RedisEngine

        return RedisEngine(options)
    raise ValueError(f"unknown engine {options.engine!r}: use memory or redis")
