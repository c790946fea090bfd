-- cancel.lua: a waiting ticket is withdrawn (the citizen left, or the guide issued it by mistake).
-- KEYS[9] the queue the ticket was read in  KEYS[10] age(ticket's service)
-- ARGV[3] ticket id  ARGV[4] queue name as read
local id, seen_queue = ARGV[3], ARGV[4]
local t = get_json(K_TICKETS, id)
if not t then return refuse('unknown_ticket', {ticket = id}) end
if t.status ~= 'waiting' then return refuse('ticket_not_waiting', {number = t.number, status = t.status}) end
if t.queue ~= seen_queue then return refuse('moved', {}) end
dequeue(t, KEYS[9], KEYS[10])
retire(t)
t.status, t.finished_at = 'cancelled', NOW
put_json(K_TICKETS, id, t)
return reply(t, ticket_event('ticket.cancelled', t, {}))
