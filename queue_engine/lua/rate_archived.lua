-- rate_archived.lua: a late rating of a ticket the live day no longer holds (its record is in SQL, and the
-- caller has checked it was finished within the rating period). Once per ticket: the ticket's day keeps a
-- hash of the tickets rated so, which lives as long as the rating period. No live state changes; the event
-- says late = true. A ticket the live day still holds is rated as by rate.lua.
-- KEYS[9] late_ratings(day)
-- ARGV[3..8] as rate.lua's  ARGV[9] the ticket's number  ARGV[10] its service  ARGV[11] its window ('' = none)
-- ARGV[12] its business day  ARGV[13] the rating period in s (0: the hall takes no late ratings)
local id, number, service, window, day, period_s = ARGV[3], ARGV[9], ARGV[10], ARGV[11], ARGV[12], tonumber(ARGV[13])
local t = get_json(K_TICKETS, id)
if t then return rate_live(t) end
if period_s == 0 then return refuse('rating_closed', {number = number}) end
if redis.call('HEXISTS', KEYS[9], id) == 1 then return refuse('already_rated', {number = number}) end
redis.call('HSET', KEYS[9], id, NOW)
redis.call('EXPIRE', KEYS[9], period_s)
local score, comment = tonumber(ARGV[4]), ARGV[6]
if comment == '' then comment = nil end
if window == '' then window = nil end
local event = {type = 'ticket.rated', ticket = id, number = number, service = service, window = window, day = day,
               score = score, bad = score <= 2, source = ARGV[5], comment = comment, late = true}
return reply(event, emit(event))
