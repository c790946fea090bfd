-- common.lua: the top of the hallq function library (see queue_engine/library.py). Helpers only;
-- they are defined once when Redis loads the library, and each call binds its keys and arguments.
--
-- Every script shares the first eight keys and two arguments:
-- KEYS[1] tickets (hash id -> JSON)   KEYS[2] windows (hash id -> JSON)   KEYS[3] active (set)
-- KEYS[4] able (hash service -> open windows)   KEYS[5] ewma (hash service -> ms)
-- KEYS[6] people (hash "person|service" -> id)   KEYS[7] calls (list)   KEYS[8] events (stream)
-- KEYS[#KEYS] idle (hash service -> open idle windows skilled for it), last so no script's own keys move
-- ARGV[1] now in ms   ARGV[2] approximate cap on the event stream's length
-- ARGV[#ARGV] who acts ('' for the system): recorded on every event as `by`, the audit trail
-- A script's own keys start at KEYS[9] and its own arguments at ARGV[3].
-- Refusals return {"error": code, "details": {...}} and change nothing: every check comes before any write.
local K_TICKETS, K_WINDOWS, K_ACTIVE, K_ABLE, K_EWMA, K_PEOPLE, K_CALLS, K_EVENTS, K_IDLE
local NOW, MAXLEN, ACTOR
local CALL_KEYS, CALL_ARGV
local WRITTEN  -- the events this call appended: id, text, id, text ... (see `reply`)

-- Calls run one at a time in Redis, so these library-wide names hold the current call's values.
local function bind(keys, argv)
  K_TICKETS, K_WINDOWS, K_ACTIVE, K_ABLE = keys[1], keys[2], keys[3], keys[4]
  K_EWMA, K_PEOPLE, K_CALLS, K_EVENTS, K_IDLE = keys[5], keys[6], keys[7], keys[8], keys[#keys]
  NOW, MAXLEN, ACTOR = tonumber(argv[1]), argv[2], argv[#argv]
  CALL_KEYS, CALL_ARGV = keys, argv
  WRITTEN = {}
end

local SPAN = 10000000000000  -- policy.TIER_SPAN
local T_PINNED, T_TRANSFERRED, T_APPOINTMENT, T_WALK_IN = 2, 3, 4, 5
local ITEM_SCAN = 50  -- policy.ITEM_SCAN

local function get_json(hash, field)
  local raw = redis.call('HGET', hash, field)
  if not raw then return nil end
  return cjson.decode(raw)
end

local function put_json(hash, field, value)
  redis.call('HSET', hash, field, cjson.encode(value))
end

local function refuse(code, details)
  return cjson.encode({error = code, details = details or {}})
end

-- The reply carries the events the call wrote, as written: the worker that acknowledges the change keeps them
-- until the record has them, so a Redis lost before any hub read them loses no acknowledged change.
local function reply(value, event_id)
  if #WRITTEN == 0 then return cjson.encode({ok = value, event_id = event_id}) end
  return cjson.encode({ok = value, event_id = event_id, written = WRITTEN})
end

-- Appends an event already encoded, and notes it for the reply. On a cluster the hubs listen for a wake-up on the
-- channel named as the stream (in the hall's slot, so on the node that serves it): one connection per node then
-- follows all its halls. Without a listener it costs next to nothing.
local function append_event(text)
  local id = redis.call('XADD', K_EVENTS, 'MAXLEN', '~', MAXLEN, '*', 'e', text)
  redis.call('SPUBLISH', K_EVENTS, id)
  WRITTEN[#WRITTEN + 1] = id
  WRITTEN[#WRITTEN + 1] = text
  return id
end

-- Appends the event; its fields are the table's (nil fields are simply absent).
local function emit(event)
  event.at = NOW
  if ACTOR ~= '' then event.by = ACTOR end
  return append_event(cjson.encode(event))
end

-- policy.estimated_wait_ms: until a window able to serve the ticket can take it, never its own service.
local function estimated_wait_ms(ahead, handling_ms, able_windows, idle_windows, planned_windows)
  local windows = able_windows
  if windows == 0 then windows = planned_windows end
  if windows == 0 then windows = 1 end
  local idle = math.min(math.max(idle_windows, 0), able_windows)
  return math.floor(math.max(0, ahead + 1 - idle) * handling_ms / windows)
end

-- policy.no_show_left: recalls still to make and seconds still to wait before a no-show may be marked.
local function no_show_left(t, after_recalls, after_s)
  local wait_ms = t.called_at + after_s * 1000 - NOW
  return math.max(0, after_recalls - t.recalls), math.max(0, math.ceil(wait_ms / 1000))
end

local function count(hash, field)
  return tonumber(redis.call('HGET', hash, field) or '0')
end

-- Every change of a window's state goes through here, so K_IDLE (read by every estimate) follows it: an idle
-- window counts for each service it serves. model.HallModel.idle_windows is what it must equal.
local function set_state(w, state)
  local delta = 0
  if w.state == 'idle' and state ~= 'idle' then delta = -1 end
  if w.state ~= 'idle' and state == 'idle' then delta = 1 end
  if delta ~= 0 then
    for _, s in ipairs(w.services) do redis.call('HINCRBY', K_IDLE, s, delta) end
  end
  w.state = state
end

-- A window's skills change (set_services, reconfigure): the open-window counts follow at once. An idle window is
-- free to call for its new services, no longer for its old ones.
local function set_skills(w, services, primary, items)
  if w.state ~= 'closed' then
    for _, s in ipairs(w.services) do redis.call('HINCRBY', K_ABLE, s, -1) end
    for _, s in ipairs(services) do redis.call('HINCRBY', K_ABLE, s, 1) end
  end
  if w.state == 'idle' then
    for _, s in ipairs(w.services) do redis.call('HINCRBY', K_IDLE, s, -1) end
    for _, s in ipairs(services) do redis.call('HINCRBY', K_IDLE, s, 1) end
  end
  w.services, w.primary, w.items = services, primary, items
end

-- model._enqueue: tickets of one line with the same score (tier and ms) keep the order they came in, TIE_STEP
-- apart within that ms; Redis would order them by member, the random ticket id (A003 called before A002). The
-- ticket's own score stays the whole ms. Scores go to Redis as %.17g: a Lua number would go as %.14g.
local TIE_STEP = 1 / 64  -- exact in a double at these magnitudes (below 2^46, steps of 2^-7)
local function enqueue(t, queue_name, queue_key, age_key, score)
  local key = score
  local last = redis.call('ZREVRANGEBYSCORE', queue_key, '(' .. string.format('%.17g', score + 1),
                          string.format('%.17g', score), 'LIMIT', 0, 1, 'WITHSCORES')
  if #last > 0 then key = math.min(tonumber(last[2]) + TIE_STEP, score + 1 - TIE_STEP) end
  t.queue, t.score, t.status = queue_name, score, 'waiting'
  redis.call('ZADD', queue_key, string.format('%.17g', key), t.id)
  redis.call('ZADD', age_key, t.issued_at, t.id)
end

local function dequeue(t, queue_key, age_key)
  redis.call('ZREM', queue_key, t.id)
  redis.call('ZREM', age_key, t.id)
  t.queue = nil
end

-- The ticket leaves the live day: the person may take a new number.
local function retire(t)
  redis.call('SREM', K_ACTIVE, t.id)
  if t.person then redis.call('HDEL', K_PEOPLE, t.person .. '|' .. t.service) end
end

local function revive(t)
  redis.call('SADD', K_ACTIVE, t.id)
  if t.person then redis.call('HSET', K_PEOPLE, t.person .. '|' .. t.service, t.id) end
end

local function ticket_event(type_, t, fields)
  local e = fields or {}
  e.type, e.ticket, e.number, e.service = type_, t.id, t.number, t.service
  return emit(e)
end

-- Refusal for a window that must be idle to call or pause.
local function not_ready_to_call(window_id, w)
  if w.state == 'closed' then return refuse('window_closed', {window = window_id}) end
  if w.state == 'paused' then return refuse('window_paused', {window = window_id}) end
  if w.state ~= 'idle' then
    local t = get_json(K_TICKETS, w.ticket)
    return refuse('window_busy', {window = window_id, number = t.number})
  end
  return nil
end

-- Refusal unless the window's state is one of `allowed`; else nil and the current ticket.
local function not_current(window_id, w, allowed)
  for _, s in ipairs(allowed) do
    if w.state == s then return nil, get_json(K_TICKETS, w.ticket) end
  end
  if w.state == 'closed' then return refuse('window_closed', {window = window_id}) end
  if w.state == 'calling' or w.state == 'serving' then
    local t = get_json(K_TICKETS, w.ticket)
    return refuse('window_busy', {window = window_id, number = t.number})
  end
  return refuse('window_idle', {window = window_id})
end

local function free(w)
  w.ticket = nil
  set_state(w, 'idle')
end

-- policy rule 6: the services a window serves only some sub-items of. item_service maps sub-item -> service.
local function restricted_services(w, item_service)
  local restricted = {}
  for _, i in ipairs(w.items or {}) do
    if item_service[i] then restricted[item_service[i]] = true end
  end
  return restricted
end

-- policy.serves_item
local function serves_item(service, item, w, restricted)
  if not restricted[service] or not item then return true end
  for _, i in ipairs(w.items) do
    if i == item then return true end
  end
  return false
end

-- The sub-item -> service map passed as ARGV[first] = m, then m sub-items, then their m services.
local function item_service_map(first)
  local m = tonumber(CALL_ARGV[first])
  local map = {}
  for i = 1, m do map[CALL_ARGV[first + i]] = CALL_ARGV[first + m + i] end
  return map
end

-- The event of a call or recall carries whom to expect (the masked name) and what they come for.
local function call_ticket(window_id, w, t, reason)
  t.status, t.window, t.called_at, t.recalls = 'called', window_id, NOW, 0
  set_state(w, 'calling')
  w.ticket = t.id
  put_json(K_TICKETS, t.id, t)
  put_json(K_WINDOWS, window_id, w)
  redis.call('LPUSH', K_CALLS, cjson.encode({ticket = t.id, number = t.number, window = window_id, at = NOW,
                                             holder = t.holder}))
  redis.call('LTRIM', K_CALLS, 0, 9)
  local id = ticket_event('ticket.called', t, {window = window_id, reason = reason, holder = t.holder, item = t.item})
  return reply(t, id)
end

-- A rating (好差评) of a ticket the live day holds: finished, not rated yet, and on its own day or within the
-- rating period after it was finished (model.HallModel._rate_live). ARGV from ARGV[3] on, as rate.lua's.
local function rate_live(t)
  local score, source, comment, period_ms, today = tonumber(CALL_ARGV[4]), CALL_ARGV[5], CALL_ARGV[6],
                                                   tonumber(CALL_ARGV[7]), CALL_ARGV[8]
  if t.status ~= 'done' then return refuse('not_finished', {number = t.number, status = t.status}) end
  if t.rating then return refuse('already_rated', {number = t.number}) end
  if t.day ~= today and NOW - t.finished_at > period_ms then
    return refuse('rating_closed', {number = t.number})
  end
  if comment == '' then comment = nil end
  t.rating = {score = score, at = NOW, source = source}
  put_json(K_TICKETS, t.id, t)
  local event = {type = 'ticket.rated', ticket = t.id, number = t.number, service = t.service, window = t.window,
                 day = t.day, score = score, bad = score <= 2, source = source, comment = comment, late = false}
  local id = emit(event)
  return reply(event, id)
end

-- Maps service codes to the queue and age keys passed from KEYS[first] on: n queues, then n ages,
-- in the order of the n codes from ARGV[first_arg] on.
local function service_keys(first, first_arg, n)
  local q, age = {}, {}
  for i = 1, n do
    local code = CALL_ARGV[first_arg + i - 1]
    q[code] = CALL_KEYS[first + i - 1]
    age[code] = CALL_KEYS[first + n + i - 1]
  end
  return q, age
end
