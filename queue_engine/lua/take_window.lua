-- Hold a window for a person, deciding both rules at once: one person at one window, one window per person.
-- KEYS[1]: the hall's holders hash (window id -> {"u": username, "n": display name}).
-- ARGV[1]: the window; ARGV[2]: the username; ARGV[3]: the value to hold it with (JSON).
-- Returns {'ok'}, {'taken', <the holder's JSON>} or {'another', <the window this person holds>}.
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local held = cjson.decode(all[i + 1])
  if all[i] == ARGV[1] and held.u ~= ARGV[2] then return {'taken', all[i + 1]} end
  if held.u == ARGV[2] and all[i] ~= ARGV[1] then return {'another', all[i]} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return {'ok'}
