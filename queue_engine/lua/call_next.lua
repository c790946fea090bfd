-- call_next.lua: the window calls the next ticket by the calling policy (queue_engine/policy.py).
-- KEYS[9] window_queue(window)  KEYS[10..9+n] queue(service_i)  KEYS[10+n..9+2n] age(service_i)
-- ARGV[3] window id  ARGV[4] n  ARGV[5..4+n] service codes  ARGV[5+n..4+2n] their target waits in s
-- ARGV[5+2n] m  ARGV[6+2n..5+2n+m] the hall's sub-items  ARGV[6+2n+m..5+2n+2m] the service of each
-- Returns the called ticket, or null when nothing waits for this window.
local window_id = ARGV[3]
local n = tonumber(ARGV[4])
local Q, AGE = service_keys(10, 5, n)
local target = {}
for i = 1, n do target[ARGV[4 + i]] = tonumber(ARGV[4 + n + i]) * 1000 end

local w = get_json(K_WINDOWS, window_id)
if not w then return refuse('hall_not_ready', {}) end
local refusal = not_ready_to_call(window_id, w)
if refusal then return refusal end

local primary = {}
for _, s in ipairs(w.primary) do primary[s] = true end
local restricted = {}
if w.items and #w.items > 0 then restricted = restricted_services(w, item_service_map(5 + 2 * n)) end

-- Candidates: the head of this window's own queue, then of each service in the window's order.
local best, best_key, best_queue
local function consider(id, score, service, queue_key)
  local tier = math.floor(score / SPAN)
  local at = math.floor(score - tier * SPAN)  -- the whole ms, as policy.split_score: a tie's place is not its time
  local key = {tier <= T_TRANSFERRED and tier or T_APPOINTMENT, primary[service] and 0 or 1, tier,
               -((NOW - at) / target[service])}
  if best then
    for i = 1, 4 do
      if key[i] ~= best_key[i] then
        if key[i] > best_key[i] then return end
        break
      end
      if i == 4 then return end
    end
  end
  best, best_key, best_queue = {id = id, service = service}, key, queue_key
end

local own = redis.call('ZRANGE', KEYS[9], 0, 0, 'WITHSCORES')
if #own > 0 then consider(own[1], tonumber(own[2]), get_json(K_TICKETS, own[1]).service, KEYS[9]) end
for _, s in ipairs(w.services) do
  if restricted[s] then
    -- policy rule 6: the first ticket of the line this window may serve, among the first ITEM_SCAN.
    local entries = redis.call('ZRANGE', Q[s], 0, ITEM_SCAN - 1, 'WITHSCORES')
    for i = 1, #entries, 2 do
      if serves_item(s, get_json(K_TICKETS, entries[i]).item, w, restricted) then
        consider(entries[i], tonumber(entries[i + 1]), s, Q[s])
        break
      end
    end
  else
    local head = redis.call('ZRANGE', Q[s], 0, 0, 'WITHSCORES')
    if #head > 0 then consider(head[1], tonumber(head[2]), s, Q[s]) end
  end
end
if not best then return reply(cjson.null, nil) end

local t = get_json(K_TICKETS, best.id)
dequeue(t, best_queue, AGE[t.service])
return call_ticket(window_id, w, t, nil)
