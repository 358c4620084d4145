#!lua name=shardedlists
-- Sharded lists (the book's chapter 10.3): one logical list stored as a run of list shards
-- <base>:<n>, with <base>:first and <base>:last holding the end shards' numbers. Pushes start a new
-- shard when the end shard holds shard-size items; pops move past emptied shards. Atomic per call.

local function ends(base)
  local first = tonumber(redis.call('get', base .. ':first') or '0')
  local last = tonumber(redis.call('get', base .. ':last') or '0')
  return first, last
end

-- FCALL slist_push 1 <base> <left|right> <shard-size> <item> [item ...] -> the list's new length.
redis.register_function('slist_push', function(keys, args)
  local base, left, size = keys[1], string.lower(args[1]) == 'left', tonumber(args[2])
  if not size or size < 1 then return redis.error_reply('ERR shard-size must be a positive integer') end
  local first, last = ends(base)
  for i = 3, #args do
    local n = left and first or last
    if redis.call('llen', base .. ':' .. n) >= size then
      if left then first = first - 1; n = first else last = last + 1; n = last end
    end
    redis.call(left and 'lpush' or 'rpush', base .. ':' .. n, args[i])
  end
  redis.call('set', base .. ':first', first)
  redis.call('set', base .. ':last', last)
  local total = 0
  for n = first, last do total = total + redis.call('llen', base .. ':' .. n) end
  return total
end)

-- FCALL slist_pop 1 <base> <left|right> -> the item, or nil when the list is empty.
redis.register_function('slist_pop', function(keys, args)
  local base, left = keys[1], string.lower(args[1]) == 'left'
  local first, last = ends(base)
  while true do
    local n = left and first or last
    local item = redis.call(left and 'lpop' or 'rpop', base .. ':' .. n)
    if item then return item end
    if first >= last then
      -- Empty: reset the pointers so the key space stays small.
      redis.call('del', base .. ':first', base .. ':last')
      return false
    end
    if left then first = first + 1 else last = last - 1 end
    redis.call('set', base .. ':first', first)
    redis.call('set', base .. ':last', last)
  end
end)

-- FCALL_RO slist_len 1 <base> -> the number of items over all shards.
redis.register_function{function_name = 'slist_len', flags = {'no-writes'}, callback = function(keys)
  local first, last = ends(keys[1])
  local total = 0
  for n = first, last do total = total + redis.call('llen', keys[1] .. ':' .. n) end
  return total
end}

-- FCALL_RO slist_range 1 <base> -> every item, left to right (for small lists and tests).
redis.register_function{function_name = 'slist_range', flags = {'no-writes'}, callback = function(keys)
  local first, last = ends(keys[1])
  local out = {}
  for n = first, last do
    for _, v in ipairs(redis.call('lrange', keys[1] .. ':' .. n, 0, -1)) do out[#out + 1] = v end
  end
  return out
end}
