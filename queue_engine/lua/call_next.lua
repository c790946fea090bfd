-- call_next.lua: the window calls the next ticket by the calling policy (queue_engine/policy.py).
-- KEYS[9] window_queue(window)  KEYS[10..9+n] queue(service_i)  KEYS[10+n..9+2n] age(service_i)
-- ARGV[3] window id  ARGV[4] n  ARGV[5..4+n] service codes  ARGV[5+n..4+2n] their target waits in s
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

-- Candidates: the head of this window's own queue, then of each service in the window's order.
local best, best_key, best_queue
local function consider(queue_key, service_of)
  local head = redis.call('ZRANGE', queue_key, 0, 0, 'WITHSCORES')
  if #head == 0 then return end
  local id, score = head[1], tonumber(head[2])
  local service = service_of or get_json(K_TICKETS, id).service
  local tier = math.floor(score / SPAN)
  local at = score - tier * SPAN
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

consider(KEYS[9], nil)
for _, s in ipairs(w.services) do consider(Q[s], s) end
if not best then return reply(cjson.null, nil) end

local t = get_json(K_TICKETS, best.id)
dequeue(t, best_queue, AGE[t.service])
return call_ticket(window_id, w, t, nil)
