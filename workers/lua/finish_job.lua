-- Record a job's outcome, unless a run of the same job already succeeded: a second run (a
-- redelivery that overlapped the first) never overwrites the first success.
-- KEYS[1]: the job's record; KEYS[2]: the finished-jobs counter. ARGV[1]: TTL seconds;
-- ARGV[2]: events channel; ARGV[3]: final event; ARGV[4..]: the final fields as name, value pairs.
-- Returns 1 if recorded, 0 if the record already held a success.
if redis.call('HGET', KEYS[1], 'status') == 'succeeded' then
    redis.call('HINCRBY', KEYS[1], 'duplicates', 1)
    return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
