-- recall.lua: announce the window's called ticket again, up to the hall's limit.
-- ARGV[3] window id  ARGV[4] recall limit
local window_id, limit = ARGV[3], tonumber(ARGV[4])
local w = get_json(K_WINDOWS, window_id)
if not w then return refuse('hall_not_ready', {}) end
if w.state ~= 'calling' then
  if w.state == 'closed' then return refuse('window_closed', {window = window_id}) end
  return refuse('nothing_to_recall', {window = window_id})
end
local t = get_json(K_TICKETS, w.ticket)
if t.recalls >= limit then return refuse('recall_limit', {number = t.number, recalls = t.recalls}) end
t.recalls = t.recalls + 1
put_json(K_TICKETS, t.id, t)
return reply(t, ticket_event('ticket.recalled', t, {window = window_id, recalls = t.recalls, holder = t.holder,
                                                    item = t.item}))
