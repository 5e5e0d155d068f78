-- Record and queue a batch of async jobs in one round trip, refusing those beyond the backlog.
--
-- KEYS: the queue, then one record key per job.
-- ARGV: the backlog limit (0: none), the record TTL in seconds, then per job: its number of
--       record fields, the fields (name, value, ...) as burstlab.jobs.record encodes them,
--       and its Celery task message (burstlab.jobs.task_message).
-- Returns 1 for each job taken, 0 for each refused because the queue held the backlog limit.
local queue = KEYS[1]
local max_backlog = tonumber(ARGV[1])
local ttl = ARGV[2]
local backlog = redis.call('LLEN', queue)
local accepted = {}
local a = 3
for k = 2, #KEYS do
  local n = tonumber(ARGV[a])
  if max_backlog > 0 and backlog >= max_backlog then
    accepted[k - 1] = 0
  else
    redis.call('HSET', KEYS[k], unpack(ARGV, a + 1, a + 2 * n))
    redis.call('EXPIRE', KEYS[k], ttl)
    redis.call('LPUSH', queue, ARGV[a + 1 + 2 * n])
    backlog = backlog + 1
    accepted[k - 1] = 1
  end
  a = a + 2 + 2 * n
end
return accepted
