-- reconfigure.lua: the hall's configuration changed while it runs (queue_engine/reconfig.py says what changed).
-- Windows and services come and go with the live day in one step, or not at all: a window still open or holding
-- transferred tickets, or a service or sub-item some live ticket is for, refuses the whole change.
-- KEYS[9] the live configuration (hash version, document)
-- KEYS[10..9+r] the window queues of the windows removed, in the order of change.windows_removed
-- KEYS[10+r..] each removed service's queue then age key, in the order of change.services_removed
-- ARGV[3] the version the change was made from   ARGV[4] the new version   ARGV[5] the change (JSON)
-- ARGV[6] the new configuration (JSON text, kept as is)   ARGV[7] what changed, for the audit (JSON)
-- ARGV[8] where it comes from: 'live' (edited while the hall runs) or 'file:<sha256>' (imported from a file)
local K_CONFIG = KEYS[9]
local change = cjson.decode(ARGV[5])  -- Reconfiguration.as_json() less its skills
local current = redis.call('HGET', K_CONFIG, 'version') or '0'
if current ~= ARGV[3] then return refuse('setup_changed', {version = tonumber(current)}) end

local removed = {}
for _, s in ipairs(change.services_removed) do removed[s] = true end
local items_gone = {}
for _, i in ipairs(change.items_removed) do items_gone[i] = true end
local windows_gone = {}
for _, w in ipairs(change.windows_removed) do windows_gone[w] = true end

for i, window_id in ipairs(change.windows_removed) do
  local w = get_json(K_WINDOWS, window_id)
  if w and w.state ~= 'closed' then return refuse('window_in_use', {window = window_id}) end
  local waiting = redis.call('ZCARD', KEYS[9 + i])
  if waiting > 0 then return refuse('window_has_tickets', {window = window_id, count = waiting}) end
end
if #change.services_removed > 0 or #change.items_removed > 0 then
  local ids = redis.call('SMEMBERS', K_ACTIVE)
  table.sort(ids)  -- the refusal names the same ticket as the model does: the first live one by id
  for first = 1, #ids, 500 do
    local last = math.min(first + 499, #ids)
    local raws = redis.call('HMGET', K_TICKETS, unpack(ids, first, last))
    for _, raw in ipairs(raws) do
      if raw then
        local t = cjson.decode(raw)
        if removed[t.service] then return refuse('service_has_tickets', {service = t.service, number = t.number}) end
        if t.item and items_gone[t.item] then
          return refuse('item_has_tickets', {item = t.item, number = t.number})
        end
      end
    end
  end
end

for code, handling_ms in pairs(change.services_added) do redis.call('HSETNX', K_EWMA, code, handling_ms) end

-- Skills: a window whose configuration changed takes its new skills; every other window only loses what is gone.
local skills = {}  -- JSON of each window whose skills changed: cjson would write an empty list as {}
local function list_json(xs)
  if #xs == 0 then return '[]' end
  return cjson.encode(xs)
end
for _, window_id in ipairs(redis.call('HKEYS', K_WINDOWS)) do
  local w = get_json(K_WINDOWS, window_id)
  local want = change.skills[window_id]
  if not want and w then
    local services, primary, items, lost = {}, {}, {}, false
    for _, s in ipairs(w.services) do if removed[s] then lost = true else services[#services + 1] = s end end
    for _, s in ipairs(w.primary or {}) do if not removed[s] then primary[#primary + 1] = s end end
    for _, i in ipairs(w.items or {}) do if items_gone[i] then lost = true else items[#items + 1] = i end end
    if lost then want = {services = services, primary = primary, items = items} end
  end
  if want and w and not windows_gone[window_id] then
    set_skills(w, want.services, want.primary, want.items)
    put_json(K_WINDOWS, window_id, w)
    skills[#skills + 1] = cjson.encode(window_id) .. ':{"services":' .. list_json(want.services) ..
                          ',"primary":' .. list_json(want.primary) .. ',"items":' .. list_json(want.items) .. '}'
  end
end

for i, window_id in ipairs(change.windows_removed) do
  redis.call('HDEL', K_WINDOWS, window_id)
  redis.call('DEL', KEYS[9 + i])
end
local r = #change.windows_removed
for i, code in ipairs(change.services_removed) do
  redis.call('HDEL', K_EWMA, code)
  redis.call('HDEL', K_ABLE, code)
  redis.call('HDEL', K_IDLE, code)
  redis.call('DEL', KEYS[9 + r + 2 * i - 1], KEYS[9 + r + 2 * i])
end
for window_id, given in pairs(change.windows_added) do
  redis.call('HSETNX', K_WINDOWS, window_id, cjson.encode({state = 'closed', services = given.services,
                                                           primary = given.primary, items = given.items,
                                                           misses = {}}))
end

redis.call('HSET', K_CONFIG, 'version', ARGV[4], 'document', ARGV[6], 'source', ARGV[8], 'at', NOW, 'by', ACTOR)
-- One event: model.HallModel folds it in the order above (services added, skills, windows and services removed,
-- windows added); every worker takes the configuration from it. The change, the configuration and what changed go
-- in as they came, and the skills as written above: cjson would write their empty lists as {}.
local event = {type = 'hall.configured', at = NOW, version = tonumber(ARGV[4]), source = ARGV[8]}
if ACTOR ~= '' then event.by = ACTOR end
local text = string.sub(cjson.encode(event), 1, -2) .. ',"skills":{' .. table.concat(skills, ',') .. '}' ..
             ',"change":' .. ARGV[5] .. ',"config":' .. ARGV[6] .. ',"changes":' .. ARGV[7] .. '}'
return reply(tonumber(ARGV[4]), append_event(text))
