#!lua name=logs
-- Recent and common log messages (the book's chapter 5.1).

local function push_recent(list, message, max)
  local t = redis.call('time')[1]
  redis.call('lpush', list, t .. ' ' .. message)
  redis.call('ltrim', list, 0, max - 1)
  return redis.call('llen', list)
end

-- FCALL log_recent 1 <list> <message> [max=100] -> the list length; entries are "<unix-seconds> <message>".
redis.register_function('log_recent', function(keys, args)
  local max = tonumber(args[2]) or 100
  if not args[1] or max < 1 then error({err = 'ERR expected <message> [max >= 1]'}) end
  return push_recent(keys[1], args[1], max)
end)

-- FCALL log_common 2 <common> <start> <message> [period-seconds=3600] -> the message's count.
-- FCALL log_common 3 <common> <start> <recent> ... also logs the message to the <recent> list
-- (100 kept), as the book's log_common calls log_recent.
-- <common> counts messages of the current period; when a new period begins, it moves to
-- <common>:last (and <start> to <start>:last), as the book's hourly rotation does.
redis.register_function('log_common', function(keys, args)
  local period = tonumber(args[2]) or 3600
  if not args[1] or period < 1 then error({err = 'ERR expected <message> [period-seconds >= 1]'}) end
  local now = tonumber(redis.call('time')[1])
  local bucket = now - now % period
  local v = redis.call('get', keys[2])
  local started = v and tonumber(v)
  if started and started < bucket then
    if redis.call('exists', keys[1]) == 1 then
      redis.call('rename', keys[1], keys[1] .. ':last')
    else
      redis.call('del', keys[1] .. ':last')   -- the last period had no messages
    end
    redis.call('rename', keys[2], keys[2] .. ':last')
    redis.call('set', keys[2], string.format('%d', bucket))
  elseif not started then
    redis.call('set', keys[2], string.format('%d', bucket))
  end
  if keys[3] then push_recent(keys[3], args[1], 100) end
  return tonumber(redis.call('zincrby', keys[1], 1, args[1]))
end)
