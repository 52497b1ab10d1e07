"""Lua scripts over stock itself (not holds): stock deltas from warehouse systems, the sweep of
expired holds, and the snapshot flip of a bulk load. Shared helpers are in redis_lua.py."""

from .redis_lua import HELPERS
from .rows import MAX_QUANTITY

DELTAS = HELPERS + f"local MAX_QUANTITY = {MAX_QUANTITY}\n" + r"""
local now, n, window, n_groups = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ki, ai = 1, 5
local groups = {}
for g = 1, n_groups do
  local grp = {ver = KEYS[ki], events = KEYS[ki + 1], cat = KEYS[ki + 2], version = ARGV[ai], deltas = {}}
  local k, d = tonumber(ARGV[ai + 1]), tonumber(ARGV[ai + 2])
  local stock = {}
  for j = 1, k do stock[j] = KEYS[ki + 2 + j] end
  ki, ai = ki + 3 + k, ai + 3
  for _ = 1, d do
    grp.deltas[#grp.deltas + 1] = {eid = ARGV[ai], key = stock[tonumber(ARGV[ai + 1])], sku = ARGV[ai + 2],
      node = tonumber(ARGV[ai + 3]), set = tonumber(ARGV[ai + 4]), adj = tonumber(ARGV[ai + 5]),
      saf = tonumber(ARGV[ai + 6])}
    ai = ai + 7
  end
  groups[g] = grp
end
for g, grp in ipairs(groups) do
  local cur = redis.call('GET', grp.ver) or '0'
  if cur ~= grp.version then return {'STALE', g, cur} end
end
local levels, seen, todo = {}, {}, {}
for _, grp in ipairs(groups) do
  redis.call('ZREMRANGEBYSCORE', grp.events, '-inf', now - window)
  for _, d in ipairs(grp.deltas) do
    if not seen[d.eid] and not redis.call('ZSCORE', grp.events, d.eid) then
      seen[d.eid] = true
      local cell = d.key .. '#' .. d.node
      local lv = levels[cell]
      if not lv then
        local blob = redis.call('GET', d.key)
        lv = {geti(blob, d.node), geti(blob, n + d.node)}
      end
      local on = d.adj
      if d.set >= 0 then on = on + d.set else on = on + lv[1] end
      local saf = lv[2]
      if d.saf >= 0 then saf = d.saf end
      if on < 0 or on > MAX_QUANTITY then return {'RANGE', d.eid, on} end
      levels[cell] = {on, saf}
      todo[#todo + 1] = {grp, d, cell}
    end
  end
end
for _, t in ipairs(todo) do
  local grp, d, cell = t[1], t[2], t[3]
  if redis.call('EXISTS', d.key) == 0 then
    redis.call('SET', d.key, zeros(2 * n))
    redis.call('SADD', grp.cat, d.sku)
  end
  redis.call('SETRANGE', d.key, d.node * 8, struct.pack('<i8', levels[cell][1]))
  redis.call('SETRANGE', d.key, (n + d.node) * 8, struct.pack('<i8', levels[cell][2]))
  redis.call('ZADD', grp.events, now, d.eid)
end
return {'OK', #todo}
"""

# KEYS: [res, holds, exp] or [used, capholds, capexp]; ARGV: now, n, 'stock' | 'cap' -> holds swept
SWEEP = HELPERS + r"""
if ARGV[3] == 'cap' then
  return cap_sweep(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]))
end
return sweep(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]))
"""

# KEYS: pointer; ARGV: version -> the previous value. Moves the pointer forward only, so two loads
# racing each other end on the newer version everywhere.
FLIP = r"""
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
if new > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return cur
"""
