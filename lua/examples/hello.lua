-- A plain script for `lunar-cli --eval lua/examples/hello.lua <key> , <name>`:
-- stores a greeting under the key and returns it. (Files under lua/examples are not loaded as
-- libraries: only top-level *.lua files in lua-library-dir are.)
local greeting = 'hello ' .. ARGV[1]
redis.call('SET', KEYS[1], greeting)
return greeting
