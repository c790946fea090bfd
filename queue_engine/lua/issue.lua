-- issue.lua: take the next number of a service and queue the ticket.
-- KEYS[9] queue(service)  KEYS[10] age(service)  KEYS[11] sequence(day)  KEYS[12] idempotency(day)
-- ARGV[3] day  ARGV[4] ticket id  ARGV[5] service  ARGV[6] service letter  ARGV[7] channel
-- ARGV[8] priority ('' | vip | green)  ARGV[9] person key ('' = none)  ARGV[10] appointment slot ms ('' = none)
-- ARGV[11] idempotency key ('' = none)  ARGV[12] '1' if tickets are accepted before opening
-- ARGV[13] default handling ms  ARGV[14] ttl of day-scoped keys in s  ARGV[15] windows configured for the service
-- ARGV[16] sub-item ('' = none)  ARGV[17] green-channel reason ('' = none)  ARGV[18] masked holder name ('' = none)
-- Returns {ticket, replay, ahead, estimated_wait_s}.
local day, id, service, letter, channel = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local priority, person, appt, idem = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local item, green_reason, holder = ARGV[16], ARGV[17], ARGV[18]

local function issued(t, replay, event_id)
  local out = {ticket = t, replay = replay}
  -- A replayed ticket that was transferred since waits elsewhere: no position is given for it.
  if t.status == 'waiting' and t.queue == 'q:' .. service then
    local queue_key = KEYS[9]
    local ahead = redis.call('ZRANK', queue_key, t.id)
    local handling = tonumber(redis.call('HGET', K_EWMA, t.service) or ARGV[13])
    out.ahead = ahead
    out.estimated_wait_s = math.floor(estimated_wait_ms(ahead, handling, count(K_ABLE, t.service),
                                                        count(K_IDLE, t.service), tonumber(ARGV[15])) / 1000)
  end
  return reply(out, event_id)
end

-- model.issue_request: what this issue asks for, kept with its idempotency key as "ticket id|request".
local request = service .. '|' .. priority .. '|' .. person .. '|' .. appt
if item ~= '' or green_reason ~= '' then request = request .. '|' .. item .. '|' .. green_reason end
if idem ~= '' then
  local existing = redis.call('HGET', KEYS[12], idem)
  if existing then
    -- A key stored before requests were kept with it is the bare ticket id: it replays as it did then.
    local bar = string.find(existing, '|', 1, true)
    local earlier = get_json(K_TICKETS, bar and string.sub(existing, 1, bar - 1) or existing)
    if bar and string.sub(existing, bar + 1) ~= request then
      return refuse('idempotency_key_reused', {number = earlier.number})
    end
    return issued(earlier, true, nil)
  end
end
if person ~= '' then
  local held = redis.call('HGET', K_PEOPLE, person .. '|' .. service)
  if held then
    return refuse('duplicate_ticket', {service = service, number = get_json(K_TICKETS, held).number})
  end
end
if count(K_ABLE, service) == 0 and ARGV[12] ~= '1' then
  return refuse('no_window_for_service', {service = service})
end
if redis.call('HEXISTS', K_TICKETS, id) == 1 then return refuse('id_taken', {ticket = id}) end

local seq = redis.call('HINCRBY', KEYS[11], service, 1)
if seq == 1 then redis.call('EXPIRE', KEYS[11], ARGV[14]) end
local prefix = ''
local tier = T_WALK_IN
local at = NOW
if priority == 'vip' then
  prefix, tier = 'V', 0
elseif priority == 'green' then
  tier = 1
end
if appt ~= '' then
  at = tonumber(appt)
  if priority ~= 'vip' then prefix = 'Y' end
  if priority == '' then tier = T_APPOINTMENT end
end
local t = {id = id, day = day, service = service, channel = channel, tier = tier,
           number = prefix .. letter .. string.format('%03d', seq), issued_at = NOW}
if priority ~= '' then t.priority = priority end
if person ~= '' then t.person = person end
if appt ~= '' then t.appointment_ms = at end
if item ~= '' then t.item = item end
if green_reason ~= '' then t.green_reason = green_reason end
if holder ~= '' then t.holder = holder end
enqueue(t, 'q:' .. service, KEYS[9], KEYS[10], tier * SPAN + at)
put_json(K_TICKETS, id, t)
redis.call('SADD', K_ACTIVE, id)
if person ~= '' then redis.call('HSET', K_PEOPLE, person .. '|' .. service, id) end
if idem ~= '' then
  redis.call('HSET', KEYS[12], idem, id .. '|' .. request)
  redis.call('EXPIRE', KEYS[12], ARGV[14])
end
local idem_field = nil
if idem ~= '' then idem_field = idem end
local event_id = emit({type = 'ticket.issued', ticket = id, number = t.number, service = service, tier = tier,
                       channel = channel, priority = t.priority, appointment_ms = t.appointment_ms, day = day,
                       person = t.person, idempotency_key = idem_field, item = t.item,
                       green_reason = t.green_reason, holder = t.holder})
return issued(t, false, event_id)
