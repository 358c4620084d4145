#!lua name=locks
-- Distributed locks (the book's acquire_lock / acquire_lock_with_timeout / release_lock), atomic on
-- the server: no WATCH/MULTI retry loop. A lock is a string key holding its owner's identifier.

-- FCALL lock_acquire 1 <lock> <owner> [ttl-ms] -> 1 when acquired, 0 when someone holds it.
-- With ttl-ms, a lock found without any TTL (its holder used no timeout and may have crashed) gets
-- one, as the book's acquire_lock_with_timeout does, so it cannot stay locked forever.
redis.register_function('lock_acquire', function(keys, args)
  if not args[1] then error({err = 'ERR lock_acquire needs an owner identifier'}) end
  local ttl = tonumber(args[2])
  if args[2] and not ttl then error({err = 'ERR ttl-ms must be a number'}) end
  local ok
  if ttl and ttl > 0 then
    ttl = math.floor(ttl)
    if ttl < 1 then ttl = 1 end
    ok = redis.call('set', keys[1], args[1], 'NX', 'PX', ttl)
    if not ok and redis.call('pttl', keys[1]) == -1 then
      redis.call('pexpire', keys[1], ttl)
    end
  else
    ok = redis.call('set', keys[1], args[1], 'NX')
  end
  if ok then return 1 end
  return 0
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
  local ttl = tonumber(args[2])
  if not ttl or ttl < 1 then error({err = 'ERR ttl-ms must be a positive number'}) end
  if redis.call('get', keys[1]) == args[1] then
    return redis.call('pexpire', keys[1], math.floor(ttl))
  end
  return 0
end)

-- FCALL_RO lock_owner 1 <lock> -> the owner, or nil.
redis.register_function{function_name = 'lock_owner', flags = {'no-writes'},
  callback = function(keys) return redis.call('get', keys[1]) end}
