"""Lua scripts that grow a live reservation (RedisStore.extend) and undo a growth on a Cluster
(compensation). Same conventions as redis_lua.py: keys only from KEYS, sweep first, idempotent.

An extend carries a token (random, or derived from the caller's idempotency token). Each record it
changes remembers the token (`u`, the last 8), so a call re-sent after a lost reply, or an extend
retried with the same token, adds nothing twice, and UNEXTEND takes exactly that extension out
again. A record the extend created notes the token in `xc` and goes when undone. The capacity
record also notes what the last extension added (`x`: token, day, nodes), so UNEXTEND_CAP can give
those shipments back when the reply of the capacity call was lost.
"""

from __future__ import annotations

from .redis_lua import HELPERS

_EXTENDHELPERS = r"""
local function has(list, x)
  if not list then return false end
  for _, y in ipairs(list) do if y == x then return true end end
  return false
end
local function remember(list, token)
  local out = {}
  for _, y in ipairs(list or {}) do out[#out + 1] = y end
  out[#out + 1] = token
  while #out > 8 do table.remove(out, 1) end
  return out
end
"""

# KEYS: per group [ver, res, holds, exp, stock_1..stock_k], then (has_cap) [used, capholds, capexp]
# ARGV: now, rid, n, n_groups, has_cap, token, template (JSON record for a shard the reservation
#   does not use yet: o, e, t, s, r), then per group [version, must_exist, k, per sku
#   [sku, m, m x (node, qty, position, keep)]], then (has_cap) [day, oldest_day, c, c x (node, limit)]
# A group with k = 0 only checks that the hold still exists there (must_exist = 1).
# -> {'OK'} | {'GONE'} | {'COMMITTED'} | {'STALE', group, version} | {'NOSKU', sku}
#    | {'SHORT', sku, node, atp} | {'CAPACITY', node, limit}
EXTEND = HELPERS + _EXTENDHELPERS + r"""
local now, rid, n, n_groups = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local has_cap, token, template = ARGV[5] == '1', ARGV[6], ARGV[7]
local expires = cjson.decode(template).e
local ki, ai = 1, 8
local groups = {}
for g = 1, n_groups do
  local grp = {ver = KEYS[ki], res = KEYS[ki + 1], holds = KEYS[ki + 2], exp = KEYS[ki + 3],
               version = ARGV[ai], must = ARGV[ai + 1] == '1', skus = {}}
  local k = tonumber(ARGV[ai + 2])
  ki, ai = ki + 4, ai + 3
  grp.skus, ki, ai = read_skus(k, ki, ai)
  groups[g] = grp
end
local cap
if has_cap then
  cap = read_cap(ki, ai)
  cap.new = {}
end

for _, grp in ipairs(groups) do sweep(grp.res, grp.holds, grp.exp, now, n) end
if cap then cap_sweep(cap.used, cap.holds, cap.exp, now, n) end
if expires <= now then return {'GONE'} end
for _, grp in ipairs(groups) do
  local raw = redis.call('HGET', grp.holds, rid)
  if raw then
    grp.h = cjson.decode(raw)
    if grp.h.c == 1 then return {'COMMITTED'} end
    if has(grp.h.u, token) then return {'OK'} end  -- a re-sent call: applied already
  elseif grp.must then
    return {'GONE'}
  end
end
for g, grp in ipairs(groups) do
  if #grp.skus > 0 then
    local cur = redis.call('GET', grp.ver) or '0'
    if cur ~= grp.version then return {'STALE', g, cur} end
  end
end
local short = check_stock(groups, n)
if short then return short end
local used, ch
if cap then
  local raw = redis.call('HGET', cap.holds, rid)
  if raw then
    ch = cjson.decode(raw)
    if has(ch.u, token) then return {'OK'} end
  end
  used = redis.call('HGET', cap.used, cap.day) or zeros(n)
  for _, c in ipairs(cap.nodes) do
    if not (ch and has(ch.n, c[1])) then  -- a node the reservation ships from already costs nothing
      if c[2] >= 0 and geti(used, c[1]) + 1 > c[2] then return {'CAPACITY', c[1], c[2]} end
      cap.new[#cap.new + 1] = c[1]
    end
  end
end

for _, grp in ipairs(groups) do
  if #grp.skus > 0 then
    local h = grp.h
    if not h then
      h = cjson.decode(template)
      h.v, h.c, h.a, h.xc = tonumber(grp.version), 0, {}, token
      redis.call('ZADD', grp.exp, expires, rid)
    end
    local cells = {}
    for _, a in ipairs(h.a) do cells[a[1] .. '#' .. a[2]] = a end
    for _, sku in ipairs(grp.skus) do
      local arr = sku.res
      for _, a in ipairs(sku.allocs) do
        arr = seti(arr, a[1], geti(arr, a[1]) + a[2])
        local cell = cells[sku.name .. '#' .. a[1]]
        if cell then cell[3] = cell[3] + a[2] else h.a[#h.a + 1] = {sku.name, a[1], a[2], a[3]} end
      end
      redis.call('HSET', grp.res, sku.name, arr)
    end
    h.u = remember(h.u, token)
    redis.call('HSET', grp.holds, rid, cjson.encode(h))
  end
end
if cap and #cap.new > 0 then
  -- counted on today even when the hold took its first shipments on an earlier day (a hold
  -- across midnight): giving them back then lowers that earlier day, so today stays conservative
  for _, node in ipairs(cap.new) do used = seti(used, node, geti(used, node) + 1) end
  redis.call('HSET', cap.used, cap.day, used)
  for _, day in ipairs(redis.call('HKEYS', cap.used)) do
    if day < cap.oldest then redis.call('HDEL', cap.used, day) end
  end
  if not ch then
    ch = {d = cap.day, n = {}, o = cjson.decode(template).o}
    redis.call('ZADD', cap.exp, expires, rid)
  end
  for _, node in ipairs(cap.new) do ch.n[#ch.n + 1] = node end
  ch.u = remember(ch.u, token)
  ch.x = {k = token, d = cap.day, n = cap.new}
  redis.call('HSET', cap.holds, rid, cjson.encode(ch))
end
return {'OK'}
"""

# KEYS: [res, holds, exp]; ARGV: now, rid, n, token, m, m x (sku, node, qty)
# Takes the extension `token` out of one shard (Cluster compensation); a no-op where it did not land.
# -> 1 if undone, 0 if there was nothing to undo
UNEXTEND = HELPERS + _EXTENDHELPERS + r"""
local now, rid, n, token, m = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local res, holds, exp = KEYS[1], KEYS[2], KEYS[3]
sweep(res, holds, exp, now, n)
local raw = redis.call('HGET', holds, rid)
if not raw then return 0 end
local h = cjson.decode(raw)
if h.c == 1 or not has(h.u, token) then return 0 end
local undo, drop = {}, {}
for i = 0, m - 1 do
  local sku, node, qty = ARGV[6 + 3 * i], tonumber(ARGV[7 + 3 * i]), tonumber(ARGV[8 + 3 * i])
  undo[sku .. '#' .. node] = qty
  drop[#drop + 1] = {sku, node, qty}
end
local keep = {}
for _, a in ipairs(h.a) do
  local qty = undo[a[1] .. '#' .. a[2]]
  if qty then a[3] = a[3] - qty end
  if a[3] > 0 then keep[#keep + 1] = a end
end
give_back(res, drop, n)
local tokens = {}
for _, y in ipairs(h.u) do if y ~= token then tokens[#tokens + 1] = y end end
h.a, h.u = keep, tokens
if h.xc == token and #keep == 0 then
  drop_hold(holds, exp, rid)
else
  redis.call('HSET', holds, rid, cjson.encode(h))
end
return 1
"""

# KEYS: [used, capholds, capexp]; ARGV: now, rid, n, token
# Takes the shipments the extension `token` added out of the capacity hold again (Cluster
# compensation after the capacity call's reply was lost); a no-op where it did not land, or where
# a later extension of the same reservation has landed since (then they stay until release/expiry).
# -> 1 if undone, 0 if there was nothing to undo
UNEXTEND_CAP = HELPERS + _EXTENDHELPERS + r"""
local now, rid, n, token = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]
local used, holds, exp = KEYS[1], KEYS[2], KEYS[3]
cap_sweep(used, holds, exp, now, n)
local raw = redis.call('HGET', holds, rid)
if not raw then return 0 end
local h = cjson.decode(raw)
if not (h.x and h.x.k == token) then return 0 end
cap_give_back(used, h.x.d, h.x.n, n)
local keep, tokens = {}, {}
for _, node in ipairs(h.n) do if not has(h.x.n, node) then keep[#keep + 1] = node end end
for _, y in ipairs(h.u or {}) do if y ~= token then tokens[#tokens + 1] = y end end
h.n, h.u, h.x = keep, tokens, nil
if #keep == 0 then
  drop_hold(holds, exp, rid)
else
  redis.call('HSET', holds, rid, cjson.encode(h))
end
return 1
"""
