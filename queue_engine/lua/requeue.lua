-- requeue.lua: a late arrival whose number was missed goes back in line, by the hall's policy
-- (config.Policy.requeue_mode): 'original' keeps its old place, 'end' joins the walk-ins now; 'serve' and
-- 'new_ticket' are rules that put no late arrival back in line, and refuse.
-- KEYS[9] queue(ticket's service)  KEYS[10] age(ticket's service)
-- ARGV[3] ticket id  ARGV[4] service as read  ARGV[5] policy  ARGV[6] today
local id, seen_service, mode, today = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local t = get_json(K_TICKETS, id)
if not t then return refuse('unknown_ticket', {ticket = id}) end
if t.status ~= 'missed' then return refuse('ticket_not_missed', {number = t.number, status = t.status}) end
if mode ~= 'original' and mode ~= 'end' then return refuse('requeue_not_allowed', {number = t.number, why = mode}) end
if t.day ~= today then return refuse('requeue_not_allowed', {number = t.number, why = 'another_day'}) end
if t.service ~= seen_service then return refuse('moved', {}) end
local score = t.score
if mode == 'end' then
  t.tier = T_WALK_IN
  score = T_WALK_IN * SPAN + NOW
end
t.window, t.finished_at = nil, nil
enqueue(t, 'q:' .. t.service, KEYS[9], KEYS[10], score)
revive(t)
put_json(K_TICKETS, id, t)
return reply(t, ticket_event('ticket.requeued', t, {}))
