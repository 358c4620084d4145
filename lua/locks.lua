#!lua name=locks
-- Distributed locks (the book's acquire_lock / acquire_lock_with_timeout / release_lock), atomic on
-- the server: no WATCH/MULTI retry loop. A lock is a string key holding its owner's identifier.

-- FCALL lock_acquire 1 <lock> <owner> [ttl-ms] -> 1 when acquired, 0 when someone holds it.
redis.register_function('lock_acquire', function(keys, args)
  local ttl = tonumber(args[2])
  local ok
  if ttl and ttl > 0 then
    ok = redis.call('set', keys[1], args[1], 'NX', 'PX', math.floor(ttl))
  else
    ok = redis.call('set', keys[1], args[1], 'NX')
  end
  return ok and 1 or 0
end)

-- FCALL lock_release 1 <lock> <owner> -> 1 when released, 0 when not held by this owner.
redis.register_function('lock_release', function(keys, args)
  if redis.call('get', keys[1]) == args[1] then
    return redis.call('del', keys[1])
  end
  return 0
end)

-- FCALL lock_refresh 1 <lock> <owner> <ttl-ms> -> 1 when the owner's lock got a new TTL, else 0.
redis.register_function('lock_refresh', function(keys, args)
  if redis.call('get', keys[1]) == args[1] then
    return redis.call('pexpire', keys[1], math.floor(tonumber(args[2])))
  end
  return 0
end)

-- FCALL_RO lock_owner 1 <lock> -> the owner, or nil.
redis.register_function{function_name = 'lock_owner', flags = {'no-writes'},
  callback = function(keys) return redis.call('get', keys[1]) end}
