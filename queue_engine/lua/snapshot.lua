-- snapshot.lua: the hall at one instant, with the id of the last event it includes, so a screen can
-- draw it and then follow the stream from exactly there. Reads only.
-- KEYS[9..8+n] age(service_i)
-- ARGV[3] n  ARGV[4..3+n] service codes  ARGV[4+n..3+2n] their default handling ms
-- ARGV[4+2n..3+3n] windows configured for each service (they stand in before any is open)
-- ARGV[4+3n] m  ARGV[5+3n..4+3n+m] window ids in display order
local n = tonumber(ARGV[3])
local services = {}
for i = 1, n do
  local code = ARGV[3 + i]
  local waiting = redis.call('ZCARD', KEYS[8 + i])
  local oldest = redis.call('ZRANGE', KEYS[8 + i], 0, 0, 'WITHSCORES')
  local longest = 0
  if #oldest > 0 then longest = math.floor((NOW - tonumber(oldest[2])) / 1000) end
  local able = count(K_ABLE, code)
  local handling = tonumber(redis.call('HGET', K_EWMA, code) or ARGV[3 + n + i])
  -- The estimate is what a ticket issued now would be told: everyone waiting is ahead of it.
  local wait_ms = estimated_wait_ms(waiting, handling, able, count(K_IDLE, code), tonumber(ARGV[3 + 2 * n + i]))
  services[i] = {code = code, waiting = waiting, longest_wait_s = longest, able_windows = able,
                 estimated_wait_s = math.floor(wait_ms / 1000)}
end
local m = tonumber(ARGV[4 + 3 * n])
local windows = {}
for j = 1, m do
  local window_id = ARGV[4 + 3 * n + j]
  local w = get_json(K_WINDOWS, window_id)
  if not w then return refuse('hall_not_ready', {}) end
  local entry = {id = window_id, state = w.state, services = w.services, primary = w.primary, items = w.items,
                 reason = w.reason}
  if w.ticket then
    entry.ticket_id = w.ticket
    entry.ticket = get_json(K_TICKETS, w.ticket).number
  end
  windows[j] = entry
end
local calls = {}
for i, raw in ipairs(redis.call('LRANGE', K_CALLS, 0, 9)) do calls[i] = cjson.decode(raw) end
local last = redis.call('XREVRANGE', K_EVENTS, '+', '-', 'COUNT', 1)
local event_id = nil
if #last > 0 then event_id = last[1][1] end
return reply({services = services, windows = windows, recent_calls = calls}, event_id)
