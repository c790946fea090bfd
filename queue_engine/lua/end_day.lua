-- end_day.lua: close a business day. Tickets still waiting or called become missed, those being
-- served are finished as 'other', every window closes and forgets its misses.
-- KEYS[9..8+n] queue(service_i)  KEYS[9+n..8+2n] age(service_i)  KEYS[9+2n..8+2n+m] window_queue(window_j)
-- ARGV[3] the day closed (YYYYMMDD)  ARGV[4] n  ARGV[5..4+n] service codes  ARGV[5+n] m  ARGV[6+n..5+n+m] window ids
local day = ARGV[3]
local n = tonumber(ARGV[4])
local m = tonumber(ARGV[5 + n])
local Q, AGE = service_keys(9, 5, n)
local QUEUE = {}
for code, key in pairs(Q) do QUEUE['q:' .. code] = key end
for j = 1, m do QUEUE['wq:' .. ARGV[5 + n + j]] = KEYS[8 + 2 * n + j] end

local missed, finished = 0, 0
local ids = redis.call('SMEMBERS', K_ACTIVE)
table.sort(ids)
for _, id in ipairs(ids) do
  local t = get_json(K_TICKETS, id)
  if t.day <= day then
    if t.status == 'waiting' then dequeue(t, QUEUE[t.queue], AGE[t.service]) end
    t.finished_at = NOW
    if t.status == 'serving' then
      t.status, t.outcome = 'done', 'other'
      finished = finished + 1
      ticket_event('ticket.finished', t, {window = t.window, outcome = 'other', reason = 'end_of_day'})
    else
      t.status = 'missed'
      missed = missed + 1
      ticket_event('ticket.missed', t, {window = t.window, reason = 'end_of_day'})
    end
    retire(t)
    put_json(K_TICKETS, id, t)
  end
end

local window_ids = redis.call('HKEYS', K_WINDOWS)
table.sort(window_ids)
for _, window_id in ipairs(window_ids) do
  local w = get_json(K_WINDOWS, window_id)
  if w.state ~= 'closed' then
    w.state, w.ticket, w.reason, w.since = 'closed', nil, nil, NOW
    emit({type = 'window.closed', window = window_id, reason = 'end_of_day'})
  end
  w.misses = {}
  put_json(K_WINDOWS, window_id, w)
end
redis.call('DEL', K_ABLE, K_IDLE)
local summary = {day = day, missed = missed, finished = finished}
return reply(summary, emit({type = 'day.closed', day = day, missed = missed, finished = finished}))
