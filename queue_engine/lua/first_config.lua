-- A hall's first set-up, where its day begins rather than an event of it: written only if the hall has none.
-- KEYS[1]: the hall's live configuration (hash version, document, source, at).
-- ARGV[1]: the document (JSON); ARGV[2]: its source; ARGV[3]: now in ms.
-- Returns 1 when written, 0 when another process had written one first.
if redis.call('HEXISTS', KEYS[1], 'version') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'version', 1, 'document', ARGV[1], 'source', ARGV[2], 'at', ARGV[3])
return 1
