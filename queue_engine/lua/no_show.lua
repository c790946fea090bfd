-- no_show.lua: the called citizen did not come (过号). The window remembers its latest misses so it
-- can serve a late arrival directly.
-- ARGV[3] window id  ARGV[4] how many misses the window remembers
local window_id, keep = ARGV[3], tonumber(ARGV[4])
local w = get_json(K_WINDOWS, window_id)
if not w then return refuse('hall_not_ready', {}) end
local refusal, t = not_current(window_id, w, {'calling'})
if refusal then return refusal end
t.status, t.finished_at = 'missed', NOW
retire(t)
local misses = {}
if keep > 0 then misses[1] = t.id end
-- A ticket requeued and missed here again is remembered once, as the newest.
for _, m in ipairs(w.misses) do
  if #misses < keep and m ~= t.id then misses[#misses + 1] = m end
end
w.misses = misses
free(w)
put_json(K_TICKETS, t.id, t)
put_json(K_WINDOWS, window_id, w)
return reply(t, ticket_event('ticket.missed', t, {window = window_id}))
