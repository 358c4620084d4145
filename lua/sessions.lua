#!lua name=sessions
-- Login tokens, recently viewed items and session cleanup (the book's chapter 2.1).
-- Keys: <login> hash token -> user, <recent> sorted set token -> last seen (server seconds),
-- <viewed:TOKEN> sorted set of the items a token viewed (the newest 25 are kept).

local function now_s()
  return tonumber(redis.call('time')[1])
end

-- FCALL token_update 3 <login> <recent> <viewed:TOKEN> <token> <user> [item] -> 1
redis.register_function('token_update', function(keys, args)
  local now = now_s()
  redis.call('hset', keys[1], args[1], args[2])
  redis.call('zadd', keys[2], now, args[1])
  if args[3] and args[3] ~= '' then
    redis.call('zadd', keys[3], now, args[3])
    redis.call('zremrangebyrank', keys[3], 0, -26)
  end
  return 1
end)

-- FCALL_RO token_check 1 <login> <token> -> the user, or nil.
redis.register_function{function_name = 'token_check', flags = {'no-writes'},
  callback = function(keys, args) return redis.call('hget', keys[1], args[1]) end}

-- FCALL session_cleanup 2 <login> <recent> <limit> [viewed-prefix=viewed:] [batch=100]
--   -> how many of the oldest sessions were removed to bring <recent> down to <limit>.
redis.register_function('session_cleanup', function(keys, args)
  local limit, prefix, batch = tonumber(args[1]), args[2] or 'viewed:', tonumber(args[3]) or 100
  local size = redis.call('zcard', keys[2])
  if size <= limit then return 0 end
  local n = math.min(size - limit, batch)
  local tokens = redis.call('zrange', keys[2], 0, n - 1)
  for _, t in ipairs(tokens) do
    redis.call('del', prefix .. t)
  end
  redis.call('hdel', keys[1], unpack(tokens))
  redis.call('zrem', keys[2], unpack(tokens))
  return #tokens
end)
