#!lua name=semaphores
-- Counting semaphore and fair semaphore (the book's acquire_semaphore / acquire_fair_semaphore /
-- refresh / release), each a single atomic function. Holders are identifiers in a sorted set scored
-- by the server time (ms) of their last acquire/refresh; holders older than the timeout are dropped.

local function now_ms()
  local t = redis.call('time')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- FCALL sem_acquire 1 <sem> <id> <limit> <timeout-ms> -> 1 when acquired, 0 when full.
redis.register_function('sem_acquire', function(keys, args)
  local sem, id, limit, timeout = keys[1], args[1], tonumber(args[2]), tonumber(args[3])
  local now = now_ms()
  redis.call('zremrangebyscore', sem, '-inf', now - timeout)
  if redis.call('zscore', sem, id) then
    redis.call('zadd', sem, now, id)
    return 1
  end
  if redis.call('zcard', sem) < limit then
    redis.call('zadd', sem, now, id)
    return 1
  end
  return 0
end)

-- FCALL sem_release 1 <sem> <id> -> 1 when the holder was removed.
redis.register_function('sem_release', function(keys, args)
  return redis.call('zrem', keys[1], args[1])
end)

-- FCALL sem_refresh 1 <sem> <id> -> 1 when still held (its time is renewed), 0 when it was lost.
redis.register_function('sem_refresh', function(keys, args)
  if redis.call('zscore', keys[1], args[1]) then
    redis.call('zadd', keys[1], now_ms(), args[1])
    return 1
  end
  return 0
end)

-- Fair semaphore: keys <sem> <sem:owner> <sem:counter>. The counter orders acquirers, so a client
-- with a slower clock or a later request can never jump ahead of an earlier one.
-- FCALL fair_sem_acquire 3 <sem> <owner> <counter> <id> <limit> <timeout-ms> -> 1 or 0.
redis.register_function('fair_sem_acquire', function(keys, args)
  local sem, owner, counter = keys[1], keys[2], keys[3]
  local id, limit, timeout = args[1], tonumber(args[2]), tonumber(args[3])
  local now = now_ms()
  redis.call('zremrangebyscore', sem, '-inf', now - timeout)
  redis.call('zinterstore', owner, 2, owner, sem, 'WEIGHTS', 1, 0)
  if redis.call('zscore', owner, id) then
    redis.call('zadd', sem, now, id)
    return 1
  end
  local ticket = redis.call('incr', counter)
  redis.call('zadd', sem, now, id)
  redis.call('zadd', owner, ticket, id)
  if redis.call('zrank', owner, id) < limit then
    return 1
  end
  redis.call('zrem', sem, id)
  redis.call('zrem', owner, id)
  return 0
end)

-- FCALL fair_sem_release 2 <sem> <owner> <id> -> 1 when the holder was removed.
redis.register_function('fair_sem_release', function(keys, args)
  redis.call('zrem', keys[1], args[1])
  return redis.call('zrem', keys[2], args[1])
end)

-- FCALL fair_sem_refresh 2 <sem> <owner> <id> -> 1 when still held, 0 when it was lost (then released).
redis.register_function('fair_sem_refresh', function(keys, args)
  if redis.call('zscore', keys[1], args[1]) then
    redis.call('zadd', keys[1], now_ms(), args[1])
    return 1
  end
  redis.call('zrem', keys[2], args[1])
  return 0
end)
