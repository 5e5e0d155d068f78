-- Take the next message from the first non-empty list and record it as unacknowledged, in one step.
-- A consumer that dies at any moment leaves the message either in its list or in the unacked hash
-- (from where kombu's visibility sweep restores it), never only in the consumer's memory.
-- KEYS: the lists in priority order..., then the unacked hash, then the unacked index (sorted set).
-- ARGV[1]: the time to record (seconds since the epoch, as kombu's QoS records it).
-- Returns {list, message, recorded (1 or 0)} or nil when every list is empty.
local unacked = KEYS[#KEYS - 1]
local index = KEYS[#KEYS]

-- The delivery tag, exchange and routing key of a kombu message, or nil if it has none.
local function delivery(message)
    local ok, decoded = pcall(cjson.decode, message)
    if not ok or type(decoded) ~= 'table' then return nil end
    local properties = decoded['properties']
    if type(properties) ~= 'table' then return nil end
    local info = properties['delivery_info']
    local tag = properties['delivery_tag']
    if type(tag) ~= 'string' or type(info) ~= 'table' then return nil end
    return tag, info['exchange'] or '', info['routing_key'] or ''
end

for i = 1, #KEYS - 2 do
    -- Read before removing: a script is not rolled back on error, so nothing may fail after RPOP.
    local message = redis.call('LINDEX', KEYS[i], -1)
    if message then
        local tag, exchange, routing_key = delivery(message)
        redis.call('RPOP', KEYS[i])
        if not tag then
            return {KEYS[i], message, 0}
        end
        -- kombu's unacked entry: [message, exchange, routing_key] as JSON, the message verbatim.
        local entry = '[' .. message .. ', ' .. cjson.encode(exchange) .. ', '
            .. cjson.encode(routing_key) .. ']'
        redis.call('HSET', unacked, tag, entry)
        redis.call('ZADD', index, ARGV[1], tag)
        return {KEYS[i], message, 1}
    end
end
return nil
