-- set_services.lua: change which services a window serves and which it calls first (a manager
-- moving staff to where the queue is). The open-window counts follow at once.
-- ARGV[3] window id  ARGV[4] services (JSON list)  ARGV[5] primary services (JSON list)
local window_id = ARGV[3]
local services, primary = cjson.decode(ARGV[4]), cjson.decode(ARGV[5])
local w = get_json(K_WINDOWS, window_id)
if not w then return refuse('hall_not_ready', {}) end
if w.state ~= 'closed' then
  for _, s in ipairs(w.services) do redis.call('HINCRBY', K_ABLE, s, -1) end
  for _, s in ipairs(services) do redis.call('HINCRBY', K_ABLE, s, 1) end
end
w.services, w.primary = services, primary
put_json(K_WINDOWS, window_id, w)
return reply(w, emit({type = 'window.services_changed', window = window_id, services = services, primary = primary}))
