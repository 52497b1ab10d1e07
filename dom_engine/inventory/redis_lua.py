"""Lua scripts of the Redis store (see redis_store.py for the key layout they work on).

Every script touches only keys it gets in KEYS. A stock "group" is one shard's keys; a script may
get several groups (standalone Redis: one atomic call for a whole order) or exactly one (Redis
Cluster: one call per hash slot). Arrays are int64 little-endian strings, element i at byte 8*i;
a missing array reads as zeros. Each script first sweeps the expired holds of the shards it got
(giving their units back), then acts. All scripts are idempotent, so a client retry after a lost
reply is harmless.
"""

from __future__ import annotations

HELPERS = r"""
-- The k SKUs of a group from KEYS[ki..] / ARGV[ai..]: [sku, m, m x (node, qty, position, keep)]
-- each; keep: units of the SKU that must stay available at the node after the hold (stock buffer).
local function read_skus(k, ki, ai)
  local skus = {}
  for j = 1, k do
    local sku = {name = ARGV[ai], key = KEYS[ki], allocs = {}}
    local m = tonumber(ARGV[ai + 1])
    ai = ai + 2
    for _ = 1, m do
      sku.allocs[#sku.allocs + 1] = {tonumber(ARGV[ai]), tonumber(ARGV[ai + 1]), tonumber(ARGV[ai + 2]),
                                     tonumber(ARGV[ai + 3])}
      ai = ai + 4
    end
    skus[j] = sku
    ki = ki + 1
  end
  return skus, ki, ai
end
-- The capacity part from KEYS[ki..ki+2] / ARGV[ai..]: [day, oldest day kept, c, c x (node, limit)].
local function read_cap(ki, ai)
  local cap = {used = KEYS[ki], holds = KEYS[ki + 1], exp = KEYS[ki + 2], day = ARGV[ai],
               oldest = ARGV[ai + 1], nodes = {}}
  local c = tonumber(ARGV[ai + 2])
  ai = ai + 3
  for _ = 1, c do
    cap.nodes[#cap.nodes + 1] = {tonumber(ARGV[ai]), tonumber(ARGV[ai + 1])}
    ai = ai + 2
  end
  return cap
end
local function geti(s, i)
  if not s or #s < i * 8 + 8 then return 0 end
  return struct.unpack('<i8', s, i * 8 + 1)
end
local function seti(s, i, v)
  return string.sub(s, 1, i * 8) .. struct.pack('<i8', v) .. string.sub(s, i * 8 + 9)
end
local function zeros(n) return string.rep('\0', n * 8) end
-- A hold goes together with its entry in the expiry index.
local function drop_hold(holds, exp, rid)
  redis.call('HDEL', holds, rid)
  redis.call('ZREM', exp, rid)
end
-- Every allocation fits the ATP of its SKU less its keep (loading each SKU's reserved row into
-- sku.res), or the reply that says why not: {'NOSKU', sku} or {'SHORT', sku, node, atp}.
local function check_stock(groups, n)
  for _, grp in ipairs(groups) do
    for _, sku in ipairs(grp.skus) do
      local stock = redis.call('GET', sku.key)
      if not stock then return {'NOSKU', sku.name} end
      sku.res = redis.call('HGET', grp.res, sku.name) or zeros(n)
      for _, a in ipairs(sku.allocs) do
        local atp = geti(stock, a[1]) - geti(sku.res, a[1]) - geti(stock, n + a[1])
        if atp - a[4] < a[2] then return {'SHORT', sku.name, a[1], atp} end
      end
    end
  end
  return nil
end

-- subtract the units of `allocs` ({sku, node, qty, k}) from the reserved arrays in hash `res`
local function give_back(res, allocs, n)
  local arrays = {}
  for _, a in ipairs(allocs) do
    local sku = a[1]
    local arr = arrays[sku] or redis.call('HGET', res, sku) or zeros(n)
    local left = geti(arr, a[2]) - a[3]
    if left < 0 then left = 0 end
    arrays[sku] = seti(arr, a[2], left)
  end
  for sku, arr in pairs(arrays) do
    if arr == zeros(n) then redis.call('HDEL', res, sku) else redis.call('HSET', res, sku, arr) end
  end
end

-- expired holds of one stock shard: give their units back, drop the records, and note what was
-- given back in the shard's list `<tag>:expired` (same slot as `holds`; capped) for the decision
-- log's "expired" events (RedisStore.take_expired; kept a day when no server takes them)
local function sweep(res, holds, exp, now, n)
  local due = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 512)
  local expired = string.sub(holds, 1, -6) .. 'expired'
  for _, rid in ipairs(due) do
    local raw = redis.call('HGET', holds, rid)
    if raw then
      local h = cjson.decode(raw)
      if h.c == 0 then
        give_back(res, h.a, n)
        redis.call('RPUSH', expired, cjson.encode({r = rid, o = h.o, e = h.e, v = h.v, a = h.a}))
        redis.call('LTRIM', expired, -10000, -1)
        redis.call('EXPIRE', expired, 86400)   -- gone a day after the last, if no server takes it
      end
      redis.call('HDEL', holds, rid)
    end
    redis.call('ZREM', exp, rid)
  end
  return #due
end

-- take one shipment per node in `nodes` back from the day field `day` of hash `used`
local function cap_give_back(used, day, nodes, n)
  local arr = redis.call('HGET', used, day)
  if not arr then return end
  for _, node in ipairs(nodes) do
    local left = geti(arr, node) - 1
    if left < 0 then left = 0 end
    arr = seti(arr, node, left)
  end
  redis.call('HSET', used, day, arr)
end

local function cap_sweep(used, holds, exp, now, n)
  local due = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 512)
  for _, rid in ipairs(due) do
    local raw = redis.call('HGET', holds, rid)
    if raw then
      local h = cjson.decode(raw)
      cap_give_back(used, h.d, h.n, n)
      redis.call('HDEL', holds, rid)
    end
    redis.call('ZREM', exp, rid)
  end
  return #due
end
"""

# KEYS: per group [ver, res, holds, exp, stock_1..stock_k], then (has_cap) [used, capholds, capexp]
# ARGV: now, expires, rid, order_id, n, n_groups, has_cap, shards_json, created, token, then per group
#   [shard, version, k, per sku [sku, m, m x (node, qty, k, keep)]], then (has_cap)
#   [day, oldest_day, c, c x (node, limit)]
# token: the attempt's (every record it makes notes it in `k`, so compensation takes out only its own)
# -> {'OK'} | {'EXISTS', token of the record found} | {'STALE', group, version} | {'NOSKU', sku}
#    | {'SHORT', sku, node, atp} | {'CAPACITY', node, limit}
RESERVE = HELPERS + r"""
local now, expires, rid, order_id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local n, n_groups, has_cap = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local shards, created, token = cjson.decode(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local ki, ai = 1, 11
local groups = {}
for g = 1, n_groups do
  local grp = {ver = KEYS[ki], res = KEYS[ki + 1], holds = KEYS[ki + 2], exp = KEYS[ki + 3],
               version = ARGV[ai + 1], skus = {}}
  local k = tonumber(ARGV[ai + 2])
  ki, ai = ki + 4, ai + 3
  grp.skus, ki, ai = read_skus(k, ki, ai)
  groups[g] = grp
end
local cap
if has_cap then cap = read_cap(ki, ai) end

for _, grp in ipairs(groups) do sweep(grp.res, grp.holds, grp.exp, now, n) end
if cap then cap_sweep(cap.used, cap.holds, cap.exp, now, n) end
for _, grp in ipairs(groups) do
  local raw = redis.call('HGET', grp.holds, rid)
  if raw then return {'EXISTS', cjson.decode(raw).k or ''} end
end
if cap then
  local raw = redis.call('HGET', cap.holds, rid)
  if raw then return {'EXISTS', cjson.decode(raw).k or ''} end
end
for g, grp in ipairs(groups) do
  local cur = redis.call('GET', grp.ver) or '0'
  if cur ~= grp.version then return {'STALE', g, cur} end
end
local short = check_stock(groups, n)
if short then return short end
local used
if cap then
  used = redis.call('HGET', cap.used, cap.day) or zeros(n)
  for _, c in ipairs(cap.nodes) do
    if c[2] >= 0 and geti(used, c[1]) + 1 > c[2] then return {'CAPACITY', c[1], c[2]} end
  end
end

for _, grp in ipairs(groups) do
  local rec = {}
  for _, sku in ipairs(grp.skus) do
    local arr = sku.res
    for _, a in ipairs(sku.allocs) do
      arr = seti(arr, a[1], geti(arr, a[1]) + a[2])
      rec[#rec + 1] = {sku.name, a[1], a[2], a[3]}
    end
    redis.call('HSET', grp.res, sku.name, arr)
  end
  redis.call('HSET', grp.holds, rid, cjson.encode(
    {o = order_id, v = tonumber(grp.version), e = expires, c = 0, a = rec, s = shards, t = created,
     k = token}))
  redis.call('ZADD', grp.exp, expires, rid)
end
if cap then
  local nodes = {}
  for _, c in ipairs(cap.nodes) do
    used = seti(used, c[1], geti(used, c[1]) + 1)
    nodes[#nodes + 1] = c[1]
  end
  redis.call('HSET', cap.used, cap.day, used)
  for _, day in ipairs(redis.call('HKEYS', cap.used)) do
    if day < cap.oldest then redis.call('HDEL', cap.used, day) end
  end
  redis.call('HSET', cap.holds, rid, cjson.encode({d = cap.day, n = nodes, o = order_id, k = token}))
  redis.call('ZADD', cap.exp, expires, rid)
end
return {'OK'}
"""

# KEYS: per group [res, holds, exp], then (has_cap) [used, capholds, capexp]
# ARGV: now, rid, node (-1 = all), n, n_groups, has_cap[, reject[, token]]
# reject = 1 (with a node): the node refused its shipment; each record notes it in `r` (once).
# token (compensation of one reserve attempt): only records (and the capacity hold) it made.
# -> {'COMMITTED'} | {found_records, allocations_left}
RELEASE = HELPERS + r"""
local now, rid, node, n = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local n_groups, has_cap, reject = tonumber(ARGV[5]), ARGV[6] == '1', ARGV[7] == '1'
local only = ARGV[8]
if only == '' then only = nil end
local recs = {}
for g = 1, n_groups do
  local res, holds, exp = KEYS[3 * g - 2], KEYS[3 * g - 1], KEYS[3 * g]
  sweep(res, holds, exp, now, n)
  local raw = redis.call('HGET', holds, rid)
  if raw then
    local h = cjson.decode(raw)
    if not only or h.k == only then
      if h.c == 1 then return {'COMMITTED'} end
      recs[#recs + 1] = {res, holds, exp, h}
    end
  end
end
local left = 0
for _, r in ipairs(recs) do
  local res, holds, exp, h = r[1], r[2], r[3], r[4]
  local keep, drop = {}, {}
  for _, a in ipairs(h.a) do
    if node < 0 or a[2] == node then drop[#drop + 1] = a else keep[#keep + 1] = a end
  end
  give_back(res, drop, n)
  left = left + #keep
  if node < 0 then
    drop_hold(holds, exp, rid)
  else
    h.a = keep  -- an empty record stays as a tombstone: a retried reserve must not hold again
    if reject then
      h.r = h.r or {}
      local noted = false
      for _, x in ipairs(h.r) do if x == node then noted = true end end
      if not noted then h.r[#h.r + 1] = node end
    end
    redis.call('HSET', holds, rid, cjson.encode(h))
  end
end
if has_cap then
  local used, holds, exp = KEYS[3 * n_groups + 1], KEYS[3 * n_groups + 2], KEYS[3 * n_groups + 3]
  cap_sweep(used, holds, exp, now, n)
  local raw = redis.call('HGET', holds, rid)
  if raw and only and cjson.decode(raw).k ~= only then raw = nil end
  if raw then
    local h = cjson.decode(raw)
    local keep, drop = {}, {}
    for _, x in ipairs(h.n) do
      if node < 0 or x == node then drop[#drop + 1] = x else keep[#keep + 1] = x end
    end
    cap_give_back(used, h.d, drop, n)
    if #keep == 0 then
      drop_hold(holds, exp, rid)
    else
      h.n = keep
      redis.call('HSET', holds, rid, cjson.encode(h))
    end
  end
end
return {#recs, left}
"""

# KEYS: per group [ver, res, holds, exp, stock_1..stock_k], then (has_cap) [used, capholds, capexp]
# ARGV: now, rid, n, keep_until, n_groups, has_cap, then per group [version, k, sku_1..sku_k]
# -> {'OK', found} | {'STALE', group, version} | {'RETRY'} (the hold changed since it was read)
COMMIT = HELPERS + r"""
local now, rid, n, keep_until = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local n_groups, has_cap = tonumber(ARGV[5]), ARGV[6] == '1'
local ki, ai = 1, 7
local todo, found = {}, 0
for g = 1, n_groups do
  local grp = {ver = KEYS[ki], res = KEYS[ki + 1], holds = KEYS[ki + 2], exp = KEYS[ki + 3],
               version = ARGV[ai], keys = {}}
  local k = tonumber(ARGV[ai + 1])
  ki, ai = ki + 4, ai + 2
  for _ = 1, k do
    grp.keys[ARGV[ai]] = KEYS[ki]
    ki, ai = ki + 1, ai + 1
  end
  sweep(grp.res, grp.holds, grp.exp, now, n)
  local raw = redis.call('HGET', grp.holds, rid)
  if raw then
    found = found + 1
    grp.h = cjson.decode(raw)
    if grp.h.c == 0 then
      local cur = redis.call('GET', grp.ver) or '0'
      if cur ~= grp.version then return {'STALE', g, cur} end
      for _, a in ipairs(grp.h.a) do
        if not grp.keys[a[1]] then return {'RETRY'} end
      end
      todo[#todo + 1] = grp
    end
  end
end
for _, grp in ipairs(todo) do
  give_back(grp.res, grp.h.a, n)
  for _, a in ipairs(grp.h.a) do
    local key, off = grp.keys[a[1]], a[2] * 8
    local cur = redis.call('GETRANGE', key, off, off + 7)
    if #cur == 8 then
      local left = struct.unpack('<i8', cur) - a[3]
      if left < 0 then left = 0 end
      redis.call('SETRANGE', key, off, struct.pack('<i8', left))
    end
  end
  grp.h.c, grp.h.e = 1, keep_until
  redis.call('HSET', grp.holds, rid, cjson.encode(grp.h))
  redis.call('ZADD', grp.exp, keep_until, rid)
end
if has_cap then
  local used, holds, exp = KEYS[ki], KEYS[ki + 1], KEYS[ki + 2]
  cap_sweep(used, holds, exp, now, n)
  -- the shipments stay counted for their day; only the hold (and its expiry) goes
  drop_hold(holds, exp, rid)
end
return {'OK', found}
"""

# KEYS: per group [ver, events, catalogue, stock_1..stock_k]
# ARGV: now, n, window_ms, n_groups, then per group [version, k, d, d x (event_id, key 1..k, sku, node,
#   set (-1 = keep on hand), adjust, safety (-1 = keep))]
# All or none: every delta is checked (in order, per cell) before any is written.
# -> {'OK', applied} | {'STALE', group, version} | {'RANGE', event_id, on_hand} (outside 0..MAX_QUANTITY)
