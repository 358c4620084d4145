#!lua name=taskqueue
-- Task queues with delayed tasks (the book's chapter 6.4): a list of ready tasks and a sorted set of
-- delayed ones scored by due time (server ms). Moving due tasks is one atomic call, so no lock.

local function now_ms()
  local t = redis.call('time')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- FCALL task_enqueue 2 <queue> <delayed> <task> [delay-ms=0] -> 1 when queued now, 2 when delayed.
redis.register_function('task_enqueue', function(keys, args)
  local delay = tonumber(args[2]) or 0
  if delay > 0 then
    -- The score is the due time; a sequence number keeps identical payloads distinct.
    local seq = redis.call('incr', keys[2] .. ':seq')
    redis.call('zadd', keys[2], now_ms() + delay, seq .. ':' .. args[1])
    return 2
  end
  redis.call('rpush', keys[1], args[1])
  return 1
end)

-- FCALL task_promote 2 <queue> <delayed> [limit=100] -> how many due tasks moved to the queue.
redis.register_function('task_promote', function(keys, args)
  local limit = tonumber(args[1]) or 100
  local due = redis.call('zrangebyscore', keys[2], '-inf', now_ms(), 'LIMIT', 0, limit)
  for _, item in ipairs(due) do
    redis.call('zrem', keys[2], item)
    redis.call('rpush', keys[1], (string.gsub(item, '^%d+:', '', 1)))
  end
  return #due
end)

-- FCALL task_next 2 <queue> <delayed> -> the next ready task (promoting due ones first), or nil.
redis.register_function('task_next', function(keys, args)
  local due = redis.call('zrangebyscore', keys[2], '-inf', now_ms(), 'LIMIT', 0, 100)
  for _, item in ipairs(due) do
    redis.call('zrem', keys[2], item)
    redis.call('rpush', keys[1], (string.gsub(item, '^%d+:', '', 1)))
  end
  return redis.call('lpop', keys[1])
end)
