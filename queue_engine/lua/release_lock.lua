-- release_lock.lua: let go of a lock only if we still hold it (a lock that expired and was taken by another
-- process stays theirs). A script of its own, outside the function library.
-- KEYS[1] the lock   ARGV[1] the token we took it with. Returns 1 if released, 0 if it was not ours.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
