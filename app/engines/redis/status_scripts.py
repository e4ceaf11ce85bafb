"""The Lua scripts of the status store (app.engines.redis.status), apart
from the engine's own (scripts.py).

Every script gets the keys' common base as ARGV[1] (``<prefix>.status``,
inside a hash tag in Cluster mode, so every key lands on one slot) and
builds its key names from it:

- ``B.live``: ZSET client id -> lease end (wall-clock seconds);
- ``B.cg.<client>``: SET of the groups a client entered;
- ``B.g.<group>``: SET of the clients in a group;
- ``B.grace``: ZSET group -> end of its grace (the group is empty meanwhile);
- ``B.outbox``: LIST of events (JSON); ``B.lock``: who drains it (a lease).

Events are JSON objects ``{"id", "name", "channel"?, "user_id"?, "time_ms"}``;
ids are ``<ARGV[2]>-<n>``, ARGV[2] a fresh random id per call, so a call
retried after a timeout emits nothing twice (membership changes only once)
and ids never repeat.
"""
from __future__ import annotations

from app.engines.redis.scripts import Script

_PRELUDE = """
local base = ARGV[1]
local opid = ARGV[2]
local now_ms = tonumber(ARGV[3])
local count = 0
local ON = {u = "user_online", c = "channel_occupied", m = "member_added"}
local OFF = {u = "user_offline", c = "channel_vacated", m = "member_removed"}
local function emit(names, group)
  count = count + 1
  local kind = string.sub(group, 1, 1)
  local event = {id = opid .. "-" .. count, name = names[kind]}
  local rest = string.sub(group, 2)
  if kind == "u" then
    event.user_id = rest
  elseif kind == "c" then
    event.channel = rest
  else
    local colon = string.find(rest, ":", 1, true)
    local size = tonumber(string.sub(rest, 1, colon - 1))
    event.channel = string.sub(rest, colon + 1, colon + size)
    event.user_id = string.sub(rest, colon + size + 1)
  end
  local body = cjson.encode(event)
  body = string.sub(body, 1, -2) .. ',"time_ms":' .. ARGV[3] .. '}'
  redis.call("rpush", base .. ".outbox", body)
end
"""

#: ARGV: base, opid, now_ms, client, lease end, group...
ENTER = Script(_PRELUDE + """
local client = ARGV[4]
redis.call("zadd", base .. ".live", ARGV[5], client)
for i = 6, #ARGV do
  local group = ARGV[i]
  redis.call("sadd", base .. ".cg." .. client, group)
  local key = base .. ".g." .. group
  if redis.call("sadd", key, client) == 1 and redis.call("scard", key) == 1 then
    if redis.call("zrem", base .. ".grace", group) == 0 then
      emit(ON, group)
    end
  end
end
return count
""")

#: ARGV: base, opid, now_ms, client, grace end ("" or <= now: none), group...
LEAVE = Script(_PRELUDE + """
local client = ARGV[4]
local due = tonumber(ARGV[5])
local groups = base .. ".cg." .. client
for i = 6, #ARGV do
  local group = ARGV[i]
  redis.call("srem", groups, group)
  local key = base .. ".g." .. group
  if redis.call("srem", key, client) == 1 and redis.call("scard", key) == 0 then
    if due * 1000 > now_ms then
      redis.call("zadd", base .. ".grace", ARGV[5], group)
    else
      emit(OFF, group)
    end
  end
end
if redis.call("scard", groups) == 0 then
  redis.call("zrem", base .. ".live", client)
end
return count
""")

#: ARGV: base, opid, now_ms, lease end, client...  Renews the leases of
#: the clients still live; returns the others (a Redis that lost its data,
#: or a lease a stalled node let run out): their node enters them again.
REFRESH = Script(_PRELUDE + """
local live = base .. ".live"
local missing = {}
for i = 5, #ARGV do
  if redis.call("zadd", live, "XX", "CH", ARGV[4], ARGV[i]) == 0
      and not redis.call("zscore", live, ARGV[i]) then
    missing[#missing + 1] = ARGV[i]
  end
end
return missing
""")

#: ARGV: base, opid, now_ms, now (seconds), limit.
SWEEP = Script(_PRELUDE + """
local live = base .. ".live"
local grace = base .. ".grace"
local dead = redis.call("zrangebyscore", live, "-inf", ARGV[4], "LIMIT", 0, tonumber(ARGV[5]))
for _, client in ipairs(dead) do
  local groups = base .. ".cg." .. client
  for _, group in ipairs(redis.call("smembers", groups)) do
    local key = base .. ".g." .. group
    if redis.call("srem", key, client) == 1 and redis.call("scard", key) == 0 then
      redis.call("zadd", grace, ARGV[4], group)
    end
  end
  redis.call("del", groups)
  redis.call("zrem", live, client)
end
local due = redis.call("zrangebyscore", grace, "-inf", ARGV[4], "LIMIT", 0, tonumber(ARGV[5]))
for _, group in ipairs(due) do
  redis.call("zrem", grace, group)
  emit(OFF, group)
end
return count
""")

#: ARGV: base, owner, lease (ms), limit.  The oldest events, or nil when
#: another owner's lease runs.
TAKE = Script("""
local lock = ARGV[1] .. ".lock"
local holder = redis.call("get", lock)
if holder and holder ~= ARGV[2] then
  return false
end
redis.call("set", lock, ARGV[2], "PX", ARGV[3])
return redis.call("lrange", ARGV[1] .. ".outbox", 0, tonumber(ARGV[4]) - 1)
""")

#: ARGV: base, owner, count.  Drops the oldest ``count`` events if the owner
#: still holds the outbox (nobody else can have taken them then); 1 or 0.
ACK = Script("""
if redis.call("get", ARGV[1] .. ".lock") ~= ARGV[2] then
  return 0
end
redis.call("ltrim", ARGV[1] .. ".outbox", tonumber(ARGV[3]), -1)
return 1
""")

ALL = (ENTER, LEAVE, REFRESH, SWEEP, TAKE, ACK)
