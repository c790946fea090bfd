-- finish.lua: the window is done with its ticket; the service's handling-time estimate learns from it.
-- ARGV[3] window id  ARGV[4] outcome  ARGV[5] ewma alpha
local window_id, outcome, alpha = ARGV[3], ARGV[4], tonumber(ARGV[5])
local w = get_json(K_WINDOWS, window_id)
if not w then return refuse('hall_not_ready', {}) end
local refusal, t = not_current(window_id, w, {'calling', 'serving'})
if refusal then return refusal end
local handling = NOW - (t.serving_at or t.called_at)
-- Engine.setup seeds every estimate; a missing one starts from this first sample.
local old = tonumber(redis.call('HGET', K_EWMA, t.service) or handling)
redis.call('HSET', K_EWMA, t.service, math.floor(alpha * handling + (1 - alpha) * old + 0.5))
t.status, t.outcome, t.finished_at = 'done', outcome, NOW
retire(t)
free(w)
w.done = t.id  -- the ticket its rating pad may ask about (model.HallModel._on_ticket_finished)
put_json(K_TICKETS, t.id, t)
put_json(K_WINDOWS, window_id, w)
return reply(t, ticket_event('ticket.finished', t, {window = window_id, outcome = outcome, handling_ms = handling}))
