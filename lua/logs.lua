#!lua name=logs
-- Recent and common log messages (the book's chapter 5.1).

-- FCALL log_recent 1 <list> <message> [max=100] -> the list length; entries are "<unix-seconds> <message>".
redis.register_function('log_recent', function(keys, args)
  local max = tonumber(args[2]) or 100
  local t = redis.call('time')[1]
  redis.call('lpush', keys[1], t .. ' ' .. args[1])
  redis.call('ltrim', keys[1], 0, max - 1)
  return redis.call('llen', keys[1])
end)

-- FCALL log_common 2 <common> <start> <message> [period-seconds=3600] -> the message's count.
-- <common> counts messages of the current period; when a new period begins, it moves to
-- <common>:last (and <start> to <start>:last), as the book's hourly rotation does.
redis.register_function('log_common', function(keys, args)
  local period = tonumber(args[2]) or 3600
  local now = tonumber(redis.call('time')[1])
  local bucket = now - now % period
  local v = redis.call('get', keys[2])
  local started = v and tonumber(v)
  if started and started < bucket then
    if redis.call('exists', keys[1]) == 1 then redis.call('rename', keys[1], keys[1] .. ':last') end
    redis.call('rename', keys[2], keys[2] .. ':last')
    redis.call('set', keys[2], bucket)
  elseif not started then
    redis.call('set', keys[2], bucket)
  end
  return tonumber(redis.call('zincrby', keys[1], 1, args[1]))
end)
