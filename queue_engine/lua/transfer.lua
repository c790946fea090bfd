-- transfer.lua: send the window's ticket to another service or to one window (转窗); it waits there
-- ahead of walk-ins, keeping its number.
-- KEYS[9] target queue  KEYS[10..9+n] age(service_i)
-- ARGV[3] window id  ARGV[4] to service ('' = none)  ARGV[5] to window ('' = none)  ARGV[6] reason
-- ARGV[7] n  ARGV[8..7+n] service codes
-- ARGV[8+n] m  ARGV[9+n..8+n+m] the hall's sub-items  ARGV[9+n+m..8+n+2m] the service of each
-- A ticket moving to another service leaves its sub-item behind (it belongs to the service it leaves).
local window_id, to_service, to_window, reason = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local n = tonumber(ARGV[7])
local AGE = {}
for i = 1, n do AGE[ARGV[7 + i]] = KEYS[9 + i] end

local w = get_json(K_WINDOWS, window_id)
if not w then return refuse('hall_not_ready', {}) end
local refusal, t = not_current(window_id, w, {'calling', 'serving'})
if refusal then return refusal end
local from_service = t.service
local queue_name, service
if to_service ~= '' then
  if count(K_ABLE, to_service) == 0 then return refuse('no_window_for_service', {service = to_service}) end
  queue_name, service = 'q:' .. to_service, to_service
else
  local target = get_json(K_WINDOWS, to_window)
  if not target then return refuse('hall_not_ready', {}) end
  if target.state == 'closed' then return refuse('window_closed', {window = to_window}) end
  local skilled = false
  for _, s in ipairs(target.services) do
    if s == from_service then skilled = true end
  end
  if skilled then
    skilled = serves_item(from_service, t.item, target, restricted_services(target, item_service_map(8 + n)))
  end
  if not skilled then return refuse('not_for_this_window', {window = to_window, number = t.number}) end
  queue_name, service = 'wq:' .. to_window, from_service
end
if t.person then
  redis.call('HDEL', K_PEOPLE, t.person .. '|' .. from_service)
  redis.call('HSET', K_PEOPLE, t.person .. '|' .. service, t.id)
end
t.window = nil
if service ~= from_service then t.item = nil end
t.service, t.tier = service, T_TRANSFERRED
enqueue(t, queue_name, KEYS[9], AGE[service], T_TRANSFERRED * SPAN + NOW)
free(w)
put_json(K_TICKETS, t.id, t)
put_json(K_WINDOWS, window_id, w)
local to_window_field = nil
if to_window ~= '' then to_window_field = to_window end
return reply(t, ticket_event('ticket.transferred', t, {from_service = from_service, from_window = window_id,
                                                         to_window = to_window_field, reason = reason}))
