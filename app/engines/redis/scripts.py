"""The Lua scripts of the Redis engine, each run atomically by Redis.

Scripts are called with EVALSHA; the sha1 is computed here, and a NOSCRIPT
reply (a restarted or new Redis) makes the caller load them and retry.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Script:
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


#: Publish and append to history in one step.
#: KEYS: history list, touch key.  ARGV: topic, payload, size, lifetime, drop ("1"/"0").
#: With drop set and nobody subscribed (and no touch key), the message only
#: goes into an already existing history (LPUSHX).  Keeps exactly ``size``
#: messages (LTRIM 0 size-1; Centrifugo keeps size+1).  Returns the number
#: of receiving subscribers.
PUBLISH_WITH_HISTORY = Script(
    """
local n = redis.call("publish", ARGV[1], ARGV[2])
local pushed
if ARGV[5] == "1" and n == 0 and redis.call("exists", KEYS[2]) == 0 then
  pushed = redis.call("lpushx", KEYS[1], ARGV[2])
else
  pushed = redis.call("lpush", KEYS[1], ARGV[2])
end
if pushed > 0 then
  redis.call("ltrim", KEYS[1], 0, tonumber(ARGV[3]) - 1)
  redis.call("expire", KEYS[1], ARGV[4])
end
return n
"""
)

#: KEYS: presence set, presence hash.  ARGV: expire-at (engine clock), expire seconds, uid, info.
PRESENCE_ADD = Script(
    """
redis.call("zadd", KEYS[1], ARGV[1], ARGV[3])
redis.call("hset", KEYS[2], ARGV[3], ARGV[4])
redis.call("expire", KEYS[1], ARGV[2])
redis.call("expire", KEYS[2], ARGV[2])
return 1
"""
)

#: KEYS: presence set, presence hash.  ARGV: uid.
PRESENCE_REMOVE = Script(
    """
redis.call("hdel", KEYS[2], ARGV[1])
redis.call("zrem", KEYS[1], ARGV[1])
return 1
"""
)

#: Drop entries whose expire-at is past, then return the hash (uid, info, ...).
#: KEYS: presence set, presence hash.  ARGV: now (engine clock).
PRESENCE_GET = Script(
    """
local expired = redis.call("zrangebyscore", KEYS[1], "-inf", ARGV[1])
if #expired > 0 then
  for _, uid in ipairs(expired) do
    redis.call("hdel", KEYS[2], uid)
  end
  redis.call("zremrangebyscore", KEYS[1], "-inf", ARGV[1])
end
return redis.call("hgetall", KEYS[2])
"""
)

#: Pop up to ARGV[1] items from the head of queue KEYS[1].
API_BATCH_POP = Script(
    """
local items = redis.call("lrange", KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call("ltrim", KEYS[1], #items, -1)
end
return items
"""
)

ALL = (PUBLISH_WITH_HISTORY, PRESENCE_ADD, PRESENCE_REMOVE, PRESENCE_GET, API_BATCH_POP)
