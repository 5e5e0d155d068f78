-- Start a job unless it already ended: a duplicate delivery of a finished job does not run again.
-- KEYS[1]: the job's record. ARGV[1]: TTL seconds; ARGV[2]: events channel; ARGV[3]: start event;
-- ARGV[4..]: the running fields as name, value pairs.
-- Returns 1 if the job may run (attempts incremented), 0 if it had already ended (duplicates
-- incremented, nothing else written).
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'succeeded' or status == 'failed' then
    redis.call('HINCRBY', KEYS[1], 'duplicates', 1)
    return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
