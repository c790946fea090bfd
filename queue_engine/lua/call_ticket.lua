-- call_ticket.lua: the window calls one chosen ticket out of order (with a reason), or one of its own
-- latest no-shows who came back late, if the hall's rule serves late arrivals directly (returning = serve).
-- KEYS[9] the queue the ticket was read in  KEYS[10] age(ticket's service)
-- ARGV[3] window id  ARGV[4] ticket id  ARGV[5] queue name as read ('' if it was not waiting)  ARGV[6] reason
-- ARGV[7] the hall's rule for late arrivals: serve | requeue | new_ticket
-- ARGV[8] m  ARGV[9..8+m] the sub-items of the ticket's service as read  ARGV[9+m..8+2m] that service, m times
local window_id, id, seen_queue, reason, returning = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local w = get_json(K_WINDOWS, window_id)
if not w then return refuse('hall_not_ready', {}) end
local t = get_json(K_TICKETS, id)
if not t then return refuse('unknown_ticket', {ticket = id}) end
local refusal = not_ready_to_call(window_id, w)
if refusal then return refusal end

local missed_here, kept = false, {}
if t.status == 'missed' then
  for _, m in ipairs(w.misses) do
    if m == id then missed_here = true else kept[#kept + 1] = m end
  end
end
if missed_here and returning ~= 'serve' then
  return refuse('no_show_not_served', {number = t.number, returning = returning})
elseif missed_here then
  w.misses = kept
  revive(t)
  t.finished_at = nil
elseif t.status ~= 'waiting' then
  return refuse('ticket_not_waiting', {number = t.number, status = t.status})
else
  if t.queue ~= seen_queue then return refuse('moved', {}) end
  local allowed = t.queue == 'wq:' .. window_id
  for _, s in ipairs(w.services) do
    if t.queue == 'q:' .. s then allowed = true end
  end
  -- policy rule 6; a ticket sent to this window in particular is its to serve whatever its sub-item.
  if allowed and t.queue ~= 'wq:' .. window_id then
    allowed = serves_item(t.service, t.item, w, restricted_services(w, item_service_map(8)))
  end
  if not allowed then return refuse('not_for_this_window', {window = window_id, number = t.number}) end
  dequeue(t, KEYS[9], KEYS[10])
end
return call_ticket(window_id, w, t, reason)
