-- start.lua: the called citizen has arrived; service begins.
-- ARGV[3] window id
local window_id = ARGV[3]
local w = get_json(K_WINDOWS, window_id)
if not w then return refuse('hall_not_ready', {}) end
local refusal, t = not_current(window_id, w, {'calling'})
if refusal then return refusal end
t.status, t.serving_at = 'serving', NOW
set_state(w, 'serving')
put_json(K_TICKETS, t.id, t)
put_json(K_WINDOWS, window_id, w)
return reply(t, ticket_event('ticket.serving', t, {window = window_id}))
