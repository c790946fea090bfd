-- pin.lua: a manager moves a waiting ticket to the front of its queue (置顶), with a reason.
-- KEYS[9] the queue the ticket was read in  KEYS[10] age(ticket's service)
-- ARGV[3] ticket id  ARGV[4] queue name as read  ARGV[5] reason
local id, seen_queue, reason = ARGV[3], ARGV[4], ARGV[5]
local t = get_json(K_TICKETS, id)
if not t then return refuse('unknown_ticket', {ticket = id}) end
if t.status ~= 'waiting' then return refuse('ticket_not_waiting', {number = t.number, status = t.status}) end
if t.queue ~= seen_queue then return refuse('moved', {}) end
-- VIP and green-channel tickets already come before pinned ones; pinning leaves their place alone.
if t.tier > T_PINNED then
  dequeue(t, KEYS[9], KEYS[10])
  t.tier = T_PINNED
  enqueue(t, seen_queue, KEYS[9], KEYS[10], T_PINNED * SPAN + NOW)
end
t.pinned = reason
put_json(K_TICKETS, id, t)
return reply(t, ticket_event('ticket.pinned', t, {reason = reason}))
