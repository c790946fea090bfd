-- What a metrics scrape reads of one hall (floor.metrics.hall_reads), read-only (EVAL_RO).
-- KEYS: each service's age set (its waiting tickets scored by issue time), then the hall's event stream.
-- ARGV[1]: the archive group. Returns per service its count and oldest score, then the events not in SQL yet
-- (pending in the group, and not yet read by it), the id of the oldest of them, and Redis's TIME.
local n = #KEYS - 1
local out = {}
for i = 1, n do
  out[#out + 1] = redis.call('ZCARD', KEYS[i])
  out[#out + 1] = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')[2] or false
end
local stream, backlog, first = KEYS[n + 1], 0, false
if redis.call('EXISTS', stream) == 1 then
  local group = nil
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local fields = {}
    for j = 1, #info, 2 do fields[info[j]] = info[j + 1] end
    if fields['name'] == ARGV[1] then group = fields end
  end
  if group == nil then
    backlog = redis.call('XLEN', stream)
    local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
    if #head > 0 then first = head[1][1] end
  else
    local unread = redis.call('XRANGE', stream, '(' .. group['last-delivered-id'], '+', 'COUNT', 1)
    local lag = group['lag']
    if not lag then lag = #unread end
    backlog = group['pending'] + lag
    if group['pending'] > 0 then
      first = redis.call('XPENDING', stream, ARGV[1])[2]
    elseif #unread > 0 then
      first = unread[1][1]
    end
  end
end
out[#out + 1] = backlog
out[#out + 1] = first
local now = redis.call('TIME')
out[#out + 1] = now[1]
out[#out + 1] = now[2]
return out
