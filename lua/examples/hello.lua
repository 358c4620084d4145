-- A plain EVAL script, not a function library: lua-library-dir loads only the *.lua files at the
-- top level of each directory (and modules/ for require), so nothing in examples/ is loaded.
--   lunar-cli --eval lua/examples/hello.lua greeting , world
-- stores ARGV[1] under KEYS[1] and answers "hello world". Runs the same on redis-server 7.
redis.call('SET', KEYS[1], ARGV[1])
return 'hello ' .. redis.call('GET', KEYS[1])
