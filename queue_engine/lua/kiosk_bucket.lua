-- kiosk_bucket.lua: how often one kiosk may issue, a GCRA token bucket per device (a script of its own, not part
-- of the function library: it shares none of the hall's keys but the idempotency hash).
-- KEYS[1] the device's bucket, KEYS[2] the hall's idempotency keys of today; ARGV[1] ms between tickets once the
-- burst is used, ARGV[2] the window in ms, ARGV[3] the request's Idempotency-Key ('' = none).
-- Returns 0 (allowed, and counted) or the ms to wait before the next ticket is allowed (nothing counted).
-- A retry of a press that already made its ticket (flaky wifi) is free: it only hands back that ticket.
-- Redis's own clock, so every worker agrees whatever its host's clock says.
if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local wait = next_tat - window - now
if wait > 0 then return wait end
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return 0
