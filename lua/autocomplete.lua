#!lua name=autocomplete
-- Recent contacts and prefix autocomplete (the book's chapter 6.1), atomic on the server.

-- FCALL contact_add 1 <list> <contact> [max=100] -> the list length (most recent first, no duplicates).
redis.register_function('contact_add', function(keys, args)
  local max = tonumber(args[2]) or 100
  redis.call('lrem', keys[1], 0, args[1])
  redis.call('lpush', keys[1], args[1])
  redis.call('ltrim', keys[1], 0, max - 1)
  return redis.call('llen', keys[1])
end)

-- FCALL contact_remove 1 <list> <contact> -> how many were removed.
redis.register_function('contact_remove', function(keys, args)
  return redis.call('lrem', keys[1], 0, args[1])
end)

-- FCALL_RO contact_complete 1 <list> <prefix> -> contacts starting with prefix (case-insensitive), most recent first.
redis.register_function{function_name = 'contact_complete', flags = {'no-writes'}, callback = function(keys, args)
  local prefix = string.lower(args[1] or '')
  local out = {}
  for _, c in ipairs(redis.call('lrange', keys[1], 0, -1)) do
    if string.sub(string.lower(c), 1, #prefix) == prefix then out[#out + 1] = c end
  end
  return out
end}

-- Prefix autocomplete over a sorted set of names (all score 0, ordered by bytes).
-- FCALL ac_add 1 <set> <name> [name ...] -> how many were new.
redis.register_function('ac_add', function(keys, args)
  local n = 0
  for _, name in ipairs(args) do n = n + redis.call('zadd', keys[1], 0, name) end
  return n
end)

-- FCALL ac_remove 1 <set> <name> -> 1 when removed.
redis.register_function('ac_remove', function(keys, args)
  return redis.call('zrem', keys[1], args[1])
end)

-- FCALL_RO ac_complete 1 <set> <prefix> [limit=10] -> up to limit names starting with prefix, in order.
redis.register_function{function_name = 'ac_complete', flags = {'no-writes'}, callback = function(keys, args)
  local prefix, limit = args[1] or '', tonumber(args[2]) or 10
  return redis.call('zrangebylex', keys[1], '[' .. prefix, '[' .. prefix .. '\255', 'LIMIT', 0, limit)
end}
