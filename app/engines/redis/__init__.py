"""The Redis engine package; see engine.py for how its modules fit together,
codec.py for the payload encoding and keys.py for key names and sharding."""
from app.engines.redis.engine import RedisEngine

__all__ = ["RedisEngine"]
