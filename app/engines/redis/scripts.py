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


#: Publish and append to the channel's stream in one step, giving the
#: message its offset and epoch.
#: KEYS: stream, meta hash (``e`` epoch, ``s`` newest offset), touch key.
#: ARGV: topic, payload (a JSON object), size, lifetime, drop ("1"/"0"),
#: epoch candidate.
#: - A channel without meta has no stream: with drop set, nobody subscribed
#:   and no touch key, the message is only published (offset 0, no epoch);
#:   else a stream starts with the candidate as its epoch (a stream left
#:   without its meta belongs to a lost epoch and is deleted first).
#: - The offset is the meta's counter + 1 and is the entry's stream id
#:   (``<offset>-0``); exactly ``size`` entries are kept (MAXLEN, exact); the
#:   stream and its meta get the lifetime, renewed on each publish, so they
#:   expire together and the next publish starts a new epoch.
#: - The published payload is the message with ``"offset"`` and ``"epoch"``
#:   put in front of its fields (the stream entry keeps the payload as
#:   given: its id and the meta hold them).
#: - With a 4th key (idempotency, ARGV[7] its ttl): when it exists, nothing
#:   is done and the first publish's {offset, epoch} it holds is returned
#:   with a third element 1; else it is set to "offset:epoch" for the ttl.
#: Returns {offset, epoch} ({0, ""} when nothing was appended).
PUBLISH_WITH_HISTORY = Script(
    """
if KEYS[4] then
  local seen = redis.call("get", KEYS[4])
  if seen then
    local sep = string.find(seen, ":", 1, true)
    return {tonumber(string.sub(seen, 1, sep - 1)), string.sub(seen, sep + 1), 1}
  end
end
local epoch = redis.call("hget", KEYS[2], "e")
if not epoch then
  if ARGV[5] == "1" and redis.call("exists", KEYS[3]) == 0
      and redis.call("pubsub", "numsub", ARGV[1])[2] == 0 then
    redis.call("publish", ARGV[1], ARGV[2])
    if KEYS[4] then
      redis.call("set", KEYS[4], "0:", "EX", ARGV[7])
    end
    return {0, ""}
  end
  epoch = ARGV[6]
  redis.call("del", KEYS[1])
  redis.call("hset", KEYS[2], "e", epoch)
end
local offset = string.format("%d", redis.call("hincrby", KEYS[2], "s", 1))
redis.call("xadd", KEYS[1], "MAXLEN", ARGV[3], offset, "d", ARGV[2])
redis.call("expire", KEYS[1], ARGV[4])
redis.call("expire", KEYS[2], ARGV[4])
redis.call("publish", ARGV[1], '{"offset":' .. offset .. ',"epoch":"' .. epoch .. '",' .. string.sub(ARGV[2], 2))
if KEYS[4] then
  redis.call("set", KEYS[4], offset .. ":" .. epoch, "EX", ARGV[7])
end
return {tonumber(offset), epoch}
"""
)

#: A publish without history but with an idempotency key, atomically.
#: KEYS: idempotency key.  ARGV: topic, payload, ttl.  When the key exists
#: nothing is published; else the payload is and the key is set for ttl.
#: Returns 1 when published, 0 when the key was seen.
PUBLISH_IDEMPOTENT = Script(
    """
if redis.call("set", KEYS[1], "0:", "NX", "EX", ARGV[3]) then
  redis.call("publish", ARGV[1], ARGV[2])
  return 1
end
return 0
"""
)

#: A history read and the stream's position, atomically.
#: KEYS: stream, meta hash.  ARGV: limit (-1 all, 0 none, N), since offset
#: ("" none), reverse ("1"/"0"), epoch candidate ("" to only read), lifetime.
#: A channel without meta is started with the candidate (offset 0, the meta
#: living ``lifetime``) when one is given.  Forward: entries after since,
#: oldest first; reverse: entries before since, newest first.
#: Returns {offset, epoch, entries} (entries as XRANGE gives them).
HISTORY = Script(
    """
local epoch = redis.call("hget", KEYS[2], "e")
if not epoch then
  if ARGV[4] == "" then
    return {0, "", {}}
  end
  epoch = ARGV[4]
  redis.call("del", KEYS[1])
  redis.call("hset", KEYS[2], "e", epoch)
  redis.call("expire", KEYS[2], ARGV[5])
end
local top = tonumber(redis.call("hget", KEYS[2], "s") or "0")
local limit = tonumber(ARGV[1])
if limit == 0 then
  return {top, epoch, {}}
end
local entries
if ARGV[3] == "1" then
  local hi = "+"
  if ARGV[2] ~= "" then
    local before = tonumber(ARGV[2]) - 1
    if before < 1 then
      return {top, epoch, {}}
    end
    hi = string.format("%d", before)
  end
  if limit > 0 then
    entries = redis.call("xrevrange", KEYS[1], hi, "-", "COUNT", limit)
  else
    entries = redis.call("xrevrange", KEYS[1], hi, "-")
  end
else
  local lo = "-"
  if ARGV[2] ~= "" then
    lo = string.format("%d", tonumber(ARGV[2]) + 1)
  end
  if limit > 0 then
    entries = redis.call("xrange", KEYS[1], lo, "+", "COUNT", limit)
  else
    entries = redis.call("xrange", KEYS[1], lo, "+")
  end
end
return {top, epoch, entries}
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

ALL = (PUBLISH_WITH_HISTORY, PUBLISH_IDEMPOTENT, HISTORY, PRESENCE_ADD, PRESENCE_REMOVE, PRESENCE_GET, API_BATCH_POP)
