-- rate.lua: the citizen rates a finished ticket of the live day (好差评), once; the rating is kept on the
-- ticket and its event feeds the dashboard, the 差评 cases and the provincial system.
-- ARGV[3] ticket id  ARGV[4] score 1-5  ARGV[5] source (pad | qr | phone | guide)  ARGV[6] comment ('' = none)
-- ARGV[7] rating period after finishing, ms  ARGV[8] today (YYYYMMDD): a ticket of today may always be rated
local id = ARGV[3]
local t = get_json(K_TICKETS, id)
if not t then return refuse('unknown_ticket', {ticket = id}) end
return rate_live(t)
