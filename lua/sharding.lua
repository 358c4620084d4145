#!lua name=sharding
-- Sharded hashes and sets (the book's chapter 9.2): many small hashes/sets instead of one big one,
-- so each stays in its compact encoding. The shard of a key is chosen as the book does: numeric keys
-- by range (key // shard-size), other keys by CRC32 over 2 + total // shard-size shards.
-- Written with the `bit` library so the same code also loads into redis-server 7 (Lua 5.1).

-- Built on first use: while a library loads, Redis offers no `bit` (nor most globals).
local crc_table

local function crc32(s)
  if not crc_table then
    crc_table = {}
    for i = 0, 255 do
      local c = i
      for _ = 1, 8 do
        if bit.band(c, 1) == 1 then c = bit.bxor(0xEDB88320, bit.rshift(c, 1)) else c = bit.rshift(c, 1) end
      end
      crc_table[i] = c
    end
  end
  local crc = 0xFFFFFFFF
  for i = 1, #s do
    crc = bit.bxor(bit.rshift(crc, 8), crc_table[bit.band(bit.bxor(crc, string.byte(s, i)), 0xFF)])
  end
  crc = bit.bnot(crc)
  if crc < 0 then crc = crc + 4294967296 end
  return crc
end

local function shard_key(base, key, total, size)
  total, size = tonumber(total), tonumber(size)
  local id
  if string.find(key, '^%d+$') then
    id = math.floor(tonumber(key) / size)
  else
    id = crc32(key) % (2 + math.floor(total / size))
  end
  return base .. ':' .. string.format('%d', id)
end

-- FCALL shard_crc32 0 <string> -> CRC32 of the string (unsigned), to check clients agree on shards.
redis.register_function{function_name = 'shard_crc32', flags = {'no-writes'},
  callback = function(keys, args) return crc32(args[1]) end}

-- FCALL_RO shard_key 1 <base> <key> <total-elements> <shard-size> -> the shard's key name.
redis.register_function{function_name = 'shard_key', flags = {'no-writes'},
  callback = function(keys, args) return shard_key(keys[1], args[1], args[2], args[3]) end}

-- FCALL shard_hset 1 <base> <key> <value> <total-elements> <shard-size> -> HSET's reply on the shard.
redis.register_function('shard_hset', function(keys, args)
  return redis.call('hset', shard_key(keys[1], args[1], args[3], args[4]), args[1], args[2])
end)

-- FCALL_RO shard_hget 1 <base> <key> <total-elements> <shard-size> -> the value or nil.
redis.register_function{function_name = 'shard_hget', flags = {'no-writes'}, callback = function(keys, args)
  return redis.call('hget', shard_key(keys[1], args[1], args[2], args[3]), args[1])
end}

-- FCALL shard_hdel 1 <base> <key> <total-elements> <shard-size> -> 1 when deleted.
redis.register_function('shard_hdel', function(keys, args)
  return redis.call('hdel', shard_key(keys[1], args[1], args[2], args[3]), args[1])
end)

-- FCALL shard_sadd 1 <base> <member> <total-elements> <shard-size> -> 1 when new (unique counting).
redis.register_function('shard_sadd', function(keys, args)
  return redis.call('sadd', shard_key(keys[1], args[1], args[2], args[3]), args[1])
end)

-- FCALL_RO shard_sismember 1 <base> <member> <total-elements> <shard-size> -> 1 or 0.
redis.register_function{function_name = 'shard_sismember', flags = {'no-writes'}, callback = function(keys, args)
  return redis.call('sismember', shard_key(keys[1], args[1], args[2], args[3]), args[1])
end}

-- FCALL_RO shard_scard 1 <base> <total-elements> <shard-size> -> members over the hashed shards.
redis.register_function{function_name = 'shard_scard', flags = {'no-writes'}, callback = function(keys, args)
  local shards = 2 + math.floor(tonumber(args[1]) / tonumber(args[2]))
  local n = 0
  for i = 0, shards - 1 do n = n + redis.call('scard', keys[1] .. ':' .. i) end
  return n
end}
