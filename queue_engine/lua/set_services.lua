-- set_services.lua: change which services a window serves, which it calls first, and which sub-items of
-- them only (a manager moving staff to where the queue is). The open-window counts follow at once.
-- ARGV[3] window id  ARGV[4] services (JSON list)  ARGV[5] primary services (JSON list)
-- ARGV[6] sub-item skills (JSON list), or '' to keep those whose service the window still serves
-- ARGV[7] m  ARGV[8..7+m] the hall's sub-items  ARGV[8+m..7+2m] the service of each
local window_id = ARGV[3]
local services, primary = cjson.decode(ARGV[4]), cjson.decode(ARGV[5])
local w = get_json(K_WINDOWS, window_id)
if not w then return refuse('hall_not_ready', {}) end
local items
if ARGV[6] ~= '' then
  items = cjson.decode(ARGV[6])
else
  local item_service, serves = item_service_map(7), {}
  for _, s in ipairs(services) do serves[s] = true end
  items = {}
  for _, i in ipairs(w.items or {}) do
    if serves[item_service[i]] then items[#items + 1] = i end
  end
end
set_skills(w, services, primary, items)
put_json(K_WINDOWS, window_id, w)
return reply(w, emit({type = 'window.services_changed', window = window_id, services = services, primary = primary,
                      items = items}))
