#!lua name=articles
-- Article posting and voting with groups (the book's chapter 1.3). Keys as in the book:
-- <counter> ("article:") hands out ids, article:<id> hashes, voted:<id> sets, <time> ("time:") and
-- <score> ("score:") sorted sets, group:<name> sets of article keys.

local ONE_WEEK = 7 * 86400
local VOTE_SCORE = 432

local function now_s() return tonumber(redis.call('time')[1]) end

-- FCALL article_post 3 <counter> <time> <score> <user> <title> <link> -> the new article key.
redis.register_function('article_post', function(keys, args)
  local id = redis.call('incr', keys[1])
  local article = 'article:' .. id
  local voted = 'voted:' .. id
  local now = now_s()
  redis.call('sadd', voted, args[1])
  redis.call('expire', voted, ONE_WEEK)
  redis.call('hset', article, 'title', args[2], 'link', args[3], 'poster', args[1], 'time', now, 'votes', 1)
  redis.call('zadd', keys[3], now + VOTE_SCORE, article)
  redis.call('zadd', keys[2], now, article)
  return article
end)

-- FCALL article_vote 2 <time> <score> <user> <article-key> -> 1 counted, 0 already voted or too old.
redis.register_function('article_vote', function(keys, args)
  local posted = redis.call('zscore', keys[1], args[2])
  if not posted or tonumber(posted) < now_s() - ONE_WEEK then return 0 end
  local id = string.match(args[2], ':(.+)$')
  if redis.call('sadd', 'voted:' .. id, args[1]) == 1 then
    redis.call('zincrby', keys[2], VOTE_SCORE, args[2])
    redis.call('hincrby', args[2], 'votes', 1)
    return 1
  end
  return 0
end)

local function page(order, pg, per)
  pg, per = tonumber(pg) or 1, tonumber(per) or 25
  local out = {}
  for _, a in ipairs(redis.call('zrevrange', order, (pg - 1) * per, pg * per - 1)) do
    local row = {'id', a}
    for _, v in ipairs(redis.call('hgetall', a)) do row[#row + 1] = v end
    out[#out + 1] = row
  end
  return out
end

-- FCALL_RO article_page 1 <order> [page=1] [per-page=25] -> [[id, key, field, value, ...], ...]
redis.register_function{function_name = 'article_page', flags = {'no-writes'},
  callback = function(keys, args) return page(keys[1], args[1], args[2]) end}

-- FCALL article_groups 0 <article-key> <add-group,...> [remove-group,...] -> 1
redis.register_function('article_groups', function(keys, args)
  for g in string.gmatch(args[2] or '', '[^,]+') do redis.call('sadd', 'group:' .. g, args[1]) end
  for g in string.gmatch(args[3] or '', '[^,]+') do redis.call('srem', 'group:' .. g, args[1]) end
  return 1
end)

-- FCALL article_group_page 1 <order> <group> [page=1] [per-page=25] [cache-seconds=60]
--   -> a page of the group's articles in <order>; the intersection is cached as <order><group>.
redis.register_function('article_group_page', function(keys, args)
  local cache = keys[1] .. args[1]
  if redis.call('exists', cache) == 0 then
    redis.call('zinterstore', cache, 2, 'group:' .. args[1], keys[1], 'AGGREGATE', 'MAX')
    redis.call('expire', cache, tonumber(args[4]) or 60)
  end
  return page(cache, args[2], args[3])
end)
