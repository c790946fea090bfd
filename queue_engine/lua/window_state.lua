-- window_state.lua: open, close, pause (暂停服务, with a reason) or resume a window. An open window,
-- paused or not, counts towards the services it can serve; only an idle one towards those free to call now.
-- ARGV[3] window id  ARGV[4] action: open | close | pause | resume  ARGV[5] reason (pause)
local window_id, action, reason = ARGV[3], ARGV[4], ARGV[5]
local w = get_json(K_WINDOWS, window_id)
if not w then return refuse('hall_not_ready', {}) end
local event = {window = window_id}

if action == 'open' then
  if w.state ~= 'closed' then return refuse('window_already_open', {window = window_id}) end
  for _, s in ipairs(w.services) do redis.call('HINCRBY', K_ABLE, s, 1) end
  set_state(w, 'idle')
  event.type = 'window.opened'
elseif action == 'close' then
  if w.state == 'closed' then return refuse('window_closed', {window = window_id}) end
  if w.state == 'calling' or w.state == 'serving' then
    return refuse('window_busy', {window = window_id, number = get_json(K_TICKETS, w.ticket).number})
  end
  for _, s in ipairs(w.services) do redis.call('HINCRBY', K_ABLE, s, -1) end
  set_state(w, 'closed')
  w.reason, event.type = nil, 'window.closed'
elseif action == 'pause' then
  if w.state == 'paused' then return refuse('window_paused', {window = window_id}) end
  local refusal = not_ready_to_call(window_id, w)
  if refusal then return refusal end
  set_state(w, 'paused')
  w.reason, event.type, event.reason = reason, 'window.paused', reason
else
  if w.state ~= 'paused' then return refuse('window_not_paused', {window = window_id}) end
  set_state(w, 'idle')
  w.reason, event.type = nil, 'window.resumed'
end
w.since = NOW
put_json(K_WINDOWS, window_id, w)
return reply(w, emit(event))
