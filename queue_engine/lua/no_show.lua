-- no_show.lua: the called citizen did not come (过号), marked only once the hall's rule allows it (so many
-- recalls, so long after the call). The window remembers its latest misses, listed on its console for what the
-- rule offers a late arrival (served directly, put back in line, or a new number).
-- ARGV[3] window id  ARGV[4] how many misses the window remembers
-- ARGV[5] recalls required first  ARGV[6] seconds after the call required first
local window_id, keep = ARGV[3], tonumber(ARGV[4])
local w = get_json(K_WINDOWS, window_id)
if not w then return refuse('hall_not_ready', {}) end
local refusal, t = not_current(window_id, w, {'calling'})
if refusal then return refusal end
local recalls_left, wait_s = no_show_left(t, tonumber(ARGV[5]), tonumber(ARGV[6]))
if recalls_left > 0 or wait_s > 0 then
  return refuse('no_show_too_early', {number = t.number, recalls_left = recalls_left, wait_s = wait_s})
end
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
