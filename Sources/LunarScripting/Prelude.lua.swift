/// Lua code run once when a Lua state is created (with the full standard library still reachable).
/// It builds the sandbox every script and function runs in, and the Lua 5.1 compatibility layer
/// (bit, struct, cmsgpack, cjson, unpack, loadstring…), all written for Lunar in plain Lua 5.4 so
/// that every error they raise is an ordinary Lua error (no host frame is ever unwound).
///
/// Called as a chunk with one argument, the table of host functions `H`; returns a table with the
/// sandbox pieces the host keeps references to (env, globals, error handler).
enum Prelude {
    static let source = #"""
local H = ...
local type, error, pairs, ipairs, next, select, tostring, tonumber = type, error, pairs, ipairs, next, select, tostring, tonumber
local rawget, rawset, rawequal, rawlen, setmetatable, getmetatable = rawget, rawset, rawequal, rawlen, setmetatable, getmetatable
local raw_pcall, raw_xpcall, raw_load, assert = pcall, xpcall, load, assert
local string, table, math, utf8, coroutine = string, table, math, utf8, coroutine
local getinfo = debug.getinfo
local sfmt, sbyte, schar, ssub, sfind, spack, sunpack, srep = string.format, string.byte, string.char, string.sub, string.find, string.pack, string.unpack, string.rep
local tconcat, tinsert = table.concat, table.insert
local mtype, floor, huge = math.type, math.floor, math.huge

-- Tables the sandbox must never let a script change (rawset checks this set too).
local readonly = setmetatable({}, {__mode = "k"})
local function ro_newindex() error("Attempt to modify a readonly table", 2) end

-- A read-only view of a library table: reads go through, writes raise, pairs() still works.
local function freeze(t)
  local proxy = {}
  setmetatable(proxy, {
    __index = t, __newindex = ro_newindex, __metatable = false,
    __pairs = function() return next, t, nil end, __len = function() return #t end,
  })
  readonly[proxy] = true
  return proxy
end

local null = H.null

---------------------------------------------------------------------------------------------------
-- bit: LuaBitOp's API on 32-bit two's complement values.
local function tobit32(x, argn, fname)
  local n = tonumber(x)
  if n == nil then
    error(sfmt("bad argument #%d to '%s' (number expected, got %s)", argn, fname, x == nil and "no value" or type(x)), 0)
  end
  if mtype(n) == "float" then
    if n ~= n or n == huge or n == -huge then return 0 end
    n = n % 4294967296.0
    local f = floor(n)
    local d = n - f
    if d > 0.5 or (d == 0.5 and f % 2 == 1) then f = f + 1 end
    n = math.tointeger(f % 4294967296.0) or 0
  end
  n = n & 0xffffffff
  if n >= 0x80000000 then n = n - 0x100000000 end
  return n
end
local function norm(n) n = n & 0xffffffff if n >= 0x80000000 then n = n - 0x100000000 end return n end
local bit = {}
function bit.tobit(x) return tobit32(x, 1, "tobit") end
function bit.bnot(x) return norm(~tobit32(x, 1, "bnot")) end
local function fold(name, op)
  bit[name] = function(a, ...)
    local r = tobit32(a, 1, name)
    for i = 1, select("#", ...) do r = op(r, tobit32((select(i, ...)), i + 1, name)) end
    return norm(r)
  end
end
fold("band", function(a, b) return a & b end)
fold("bor", function(a, b) return a | b end)
fold("bxor", function(a, b) return a ~ b end)
function bit.lshift(x, n) return norm((tobit32(x, 1, "lshift") & 0xffffffff) << (tobit32(n, 2, "lshift") & 31)) end
function bit.rshift(x, n) return norm((tobit32(x, 1, "rshift") & 0xffffffff) >> (tobit32(n, 2, "rshift") & 31)) end
function bit.arshift(x, n) return norm(tobit32(x, 1, "arshift") // (1 << (tobit32(n, 2, "arshift") & 31))) end
function bit.rol(x, n)
  local v, s = tobit32(x, 1, "rol") & 0xffffffff, tobit32(n, 2, "rol") & 31
  return norm((v << s) | (v >> (32 - s)))
end
function bit.ror(x, n)
  local v, s = tobit32(x, 1, "ror") & 0xffffffff, tobit32(n, 2, "ror") & 31
  return norm((v >> s) | (v << (32 - s)))
end
function bit.bswap(x)
  local v = tobit32(x, 1, "bswap") & 0xffffffff
  return norm(((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24))
end
function bit.tohex(x, n)
  local v = tobit32(x, 1, "tohex") & 0xffffffff
  local digits = "0123456789abcdef"
  if n == nil then n = 8 else n = tobit32(n, 2, "tohex") end
  if n < 0 then
    digits = "0123456789ABCDEF"
    -- -INT_MIN overflows in 32 bits: clamp instead (CVE-2024-31449).
    n = (n == -2147483648) and 8 or -n
  end
  if n > 8 then n = 8 end
  local out = {}
  for i = n, 1, -1 do
    local d = v & 15
    out[i] = ssub(digits, d + 1, d + 1)
    v = v >> 4
  end
  return tconcat(out)
end

---------------------------------------------------------------------------------------------------
-- struct: Roberto Ierusalimschy's struct library API, implemented over string.pack/unpack.
local struct = {}
local MAXINTSIZE = 16
local MAXALIGN = 8

local function struct_items(fmt)
  -- Yields (kind, size, count) per item; kind is a single format letter or an endianness/alignment switch.
  local i, n = 1, #fmt
  return function()
    while i <= n do
      local c = ssub(fmt, i, i)
      i = i + 1
      if c ~= " " then
        local num
        local s, e = sfind(fmt, "^%d+", i)
        if s then
          num = tonumber(ssub(fmt, s, e))
          if num == nil or num > 0x7fffffff then error("size too large", 0) end
          i = e + 1
        end
        return c, num
      end
    end
    return nil
  end
end

local function int_size(c, num)
  if c == "b" or c == "B" then return 1
  elseif c == "h" or c == "H" then return 2
  elseif c == "l" or c == "L" or c == "T" then return 8
  elseif c == "i" or c == "I" then
    local sz = num or 4
    if sz < 1 or sz > MAXINTSIZE then error(sfmt("integral size %d is larger than limit of %d", sz, MAXINTSIZE), 0) end
    return sz
  end
end

local function align_pad(pos, size, align)
  if align <= 1 then return 0 end
  local a = size < align and size or align
  if a <= 1 or (a & (a - 1)) ~= 0 then return 0 end
  local off = (pos - 1) % a
  return off == 0 and 0 or a - off
end

local function to_int(v, argn)
  local x = tonumber(v)
  if x == nil then error(sfmt("bad argument #%d to 'pack' (number expected, got %s)", argn, type(v)), 0) end
  if mtype(x) == "float" then
    if x ~= x or x == huge or x == -huge then return 0 end
    x = (x >= 0) and floor(x) or -floor(-x)
    x = math.tointeger(x) or (x < 0 and math.mininteger or math.maxinteger)
  end
  return x
end

function struct.pack(fmt, ...)
  if type(fmt) ~= "string" then error("bad argument #1 to 'pack' (string expected, got " .. type(fmt) .. ")", 0) end
  local endian, align = "<", 1
  local out, pos, argi = {}, 1, 1
  local args = table.pack(...)
  local nargs = args.n
  local function arg()
    if argi > nargs then error(sfmt("bad argument #%d to 'pack' (no value)", argi + 1), 0) end
    local v = args[argi]
    argi = argi + 1
    return v
  end
  local function put(s) out[#out + 1] = s pos = pos + #s end
  for c, num in struct_items(fmt) do
    if c == ">" or c == "<" then endian = c
    elseif c == "=" then endian = "<"
    elseif c == "!" then align = num or MAXALIGN
    elseif c == "x" then put("\0")
    else
      local isz = int_size(c, num)
      if isz then
        put(srep("\0", align_pad(pos, isz, align)))
        local v = to_int(arg(), argi)
        if isz < 8 then v = v & ((1 << (isz * 8)) - 1) end
        if isz > 8 then
          -- Sign-extend into the wider field, as struct does.
          put(spack(endian .. "i" .. isz, v))
        else
          put(spack(endian .. "I" .. isz, v & (isz == 8 and -1 or ((1 << (isz * 8)) - 1))))
        end
      elseif c == "f" or c == "d" then
        local sz = c == "f" and 4 or 8
        put(srep("\0", align_pad(pos, sz, align)))
        local v = tonumber(arg())
        if v == nil then error(sfmt("bad argument #%d to 'pack' (number expected)", argi), 0) end
        put(spack(endian .. c, v))
      elseif c == "c" then
        local s = arg()
        if type(s) ~= "string" and type(s) ~= "number" then error(sfmt("bad argument #%d to 'pack' (string expected, got %s)", argi, type(s)), 0) end
        s = tostring(s)
        local l = num or 1
        if l == 0 then l = #s end
        if #s < l then error(sfmt("bad argument #%d to 'pack' (string too short)", argi + 1), 0) end
        put(ssub(s, 1, l))
      elseif c == "s" then
        local s = arg()
        if type(s) ~= "string" and type(s) ~= "number" then error(sfmt("bad argument #%d to 'pack' (string expected, got %s)", argi, type(s)), 0) end
        s = tostring(s)
        if sfind(s, "\0", 1, true) then error(sfmt("bad argument #%d to 'pack' (string contains zeros)", argi), 0) end
        put(s .. "\0")
      else
        error("invalid format option '" .. c .. "'", 0)
      end
    end
  end
  return tconcat(out)
end

function struct.unpack(fmt, data, init)
  if type(fmt) ~= "string" then error("bad argument #1 to 'unpack' (string expected, got " .. type(fmt) .. ")", 0) end
  if type(data) ~= "string" then error("bad argument #2 to 'unpack' (string expected, got " .. type(data) .. ")", 0) end
  local pos = init and to_int(init, 3) or 1
  if pos < 1 then error("bad argument #3 to 'unpack' (offset must be 1 or greater)", 0) end
  local endian, align = "<", 1
  local res, nres, last = {}, 0, nil
  local len = #data
  local function need(n) if pos + n - 1 > len then error("bad argument #2 to 'unpack' (data string too short)", 0) end end
  for c, num in struct_items(fmt) do
    if c == ">" or c == "<" then endian = c
    elseif c == "=" then endian = "<"
    elseif c == "!" then align = num or MAXALIGN
    elseif c == "x" then pos = pos + 1
    else
      local isz = int_size(c, num)
      if isz then
        pos = pos + align_pad(pos, isz, align)
        need(isz)
        local signed = (c == "b" or c == "h" or c == "l" or c == "i")
        local v
        if isz <= 8 then
          v = sunpack(endian .. (signed and "i" or "I") .. isz, data, pos)
        else
          -- Wider than 64 bits: the value must fit in 64 bits (string.unpack checks the extra bytes).
          local ok, r = raw_pcall(sunpack, endian .. (signed and "i" or "I") .. isz, data, pos)
          if not ok then error(isz .. "-byte integer does not fit into Lua Integer", 0) end
          v = r
        end
        pos = pos + isz
        nres = nres + 1 res[nres] = v last = v
      elseif c == "f" or c == "d" then
        local sz = c == "f" and 4 or 8
        pos = pos + align_pad(pos, sz, align)
        need(sz)
        local v = sunpack(endian .. c, data, pos)
        pos = pos + sz
        nres = nres + 1 res[nres] = v last = v
      elseif c == "c" then
        local l = num or 1
        if l == 0 then
          l = tonumber(last)
          if l == nil then error("format 'c0' needs a previous size", 0) end
          nres = nres - 1
        end
        need(l)
        nres = nres + 1 res[nres] = ssub(data, pos, pos + l - 1)
        pos = pos + l
      elseif c == "s" then
        local e = sfind(data, "\0", pos, true)
        if not e then error("unfinished string in data", 0) end
        nres = nres + 1 res[nres] = ssub(data, pos, e - 1)
        pos = e + 1
      else
        error("invalid format option '" .. c .. "'", 0)
      end
    end
  end
  nres = nres + 1 res[nres] = pos
  return table.unpack(res, 1, nres)
end

function struct.size(fmt)
  if type(fmt) ~= "string" then error("bad argument #1 to 'size' (string expected, got " .. type(fmt) .. ")", 0) end
  local pos, align = 1, 1
  for c, num in struct_items(fmt) do
    if c == "!" then align = num or MAXALIGN
    elseif c == ">" or c == "<" or c == "=" then
    elseif c == "x" then pos = pos + 1
    else
      local isz = int_size(c, num)
      if isz then pos = pos + align_pad(pos, isz, align) + isz
      elseif c == "f" or c == "d" then local sz = c == "f" and 4 or 8 pos = pos + align_pad(pos, sz, align) + sz
      elseif c == "c" then
        if (num or 1) == 0 then error("options 'c0' - 's' have undefined sizes", 0) end
        pos = pos + (num or 1)
      elseif c == "s" then error("options 'c0' - 's' have undefined sizes", 0)
      else error("invalid format option '" .. c .. "'", 0) end
    end
  end
  return pos - 1
end

---------------------------------------------------------------------------------------------------
-- cmsgpack: MessagePack encoding of Lua values (lua-cmsgpack's API).
local cmsgpack = {}
local MP_MAX_NESTING = 16

local function mp_is_array(t)
  local count, max = 0, 0
  for k in next, t do
    if mtype(k) ~= "integer" or k < 1 then
      if mtype(k) == "float" and k >= 1 and floor(k) == k then k = math.tointeger(k) or -1 else return false end
      if k < 1 then return false end
    end
    count = count + 1
    if k > max then max = k end
  end
  return max == count, count
end

local mp_encode
local function mp_encode_int(buf, n)
  if n >= 0 then
    if n <= 127 then buf[#buf + 1] = schar(n)
    elseif n <= 0xff then buf[#buf + 1] = "\xcc" .. spack(">I1", n)
    elseif n <= 0xffff then buf[#buf + 1] = "\xcd" .. spack(">I2", n)
    elseif n <= 0xffffffff then buf[#buf + 1] = "\xce" .. spack(">I4", n)
    else buf[#buf + 1] = "\xcf" .. spack(">i8", n) end
  else
    if n >= -32 then buf[#buf + 1] = spack("b", n)
    elseif n >= -128 then buf[#buf + 1] = "\xd0" .. spack(">i1", n)
    elseif n >= -32768 then buf[#buf + 1] = "\xd1" .. spack(">i2", n)
    elseif n >= -2147483648 then buf[#buf + 1] = "\xd2" .. spack(">i4", n)
    else buf[#buf + 1] = "\xd3" .. spack(">i8", n) end
  end
end
mp_encode = function(buf, v, level)
  local t = type(v)
  if t == "nil" then buf[#buf + 1] = "\xc0"
  elseif t == "boolean" then buf[#buf + 1] = v and "\xc3" or "\xc2"
  elseif t == "number" then
    if mtype(v) == "integer" then mp_encode_int(buf, v)
    elseif v == floor(v) and v >= -9.2233720368547758e18 and v < 9.2233720368547758e18 then mp_encode_int(buf, math.tointeger(v))
    else
      local f = sunpack("f", spack("f", v))
      if f == v then buf[#buf + 1] = "\xca" .. spack(">f", v) else buf[#buf + 1] = "\xcb" .. spack(">d", v) end
    end
  elseif t == "string" then
    local l = #v
    if l < 32 then buf[#buf + 1] = schar(0xa0 | l)
    elseif l <= 0xff then buf[#buf + 1] = "\xd9" .. schar(l)
    elseif l <= 0xffff then buf[#buf + 1] = "\xda" .. spack(">I2", l)
    else buf[#buf + 1] = "\xdb" .. spack(">I4", l) end
    buf[#buf + 1] = v
  elseif t == "table" and level < MP_MAX_NESTING then
    local isarr, count = mp_is_array(v)
    if not isarr then
      count = 0
      for _ in next, v do count = count + 1 end
    end
    if isarr then
      if count < 16 then buf[#buf + 1] = schar(0x90 | count)
      elseif count <= 0xffff then buf[#buf + 1] = "\xdc" .. spack(">I2", count)
      else buf[#buf + 1] = "\xdd" .. spack(">I4", count) end
      for i = 1, count do mp_encode(buf, rawget(v, i), level + 1) end
    else
      if count < 16 then buf[#buf + 1] = schar(0x80 | count)
      elseif count <= 0xffff then buf[#buf + 1] = "\xde" .. spack(">I2", count)
      else buf[#buf + 1] = "\xdf" .. spack(">I4", count) end
      for k, val in next, v do mp_encode(buf, k, level + 1) mp_encode(buf, val, level + 1) end
    end
  else
    buf[#buf + 1] = "\xc0"
  end
end

function cmsgpack.pack(...)
  local n = select("#", ...)
  if n == 0 then error("MessagePack pack needs input.", 0) end
  local buf = {}
  for i = 1, n do mp_encode(buf, (select(i, ...)), 0) end
  return tconcat(buf)
end

local mp_decode
local function mp_need(s, pos, n)
  if pos + n - 1 > #s then error("Missing bytes in input.", 0) end
end
mp_decode = function(s, pos, depth)
  if depth > 1000 then error("Too many nested data structures.", 0) end
  mp_need(s, pos, 1)
  local c = sbyte(s, pos)
  pos = pos + 1
  if c <= 0x7f then return c, pos
  elseif c >= 0xe0 then return c - 256, pos
  elseif c >= 0xa0 and c <= 0xbf then
    local l = c & 31 mp_need(s, pos, l) return ssub(s, pos, pos + l - 1), pos + l
  elseif c >= 0x90 and c <= 0x9f then
    local t = {}
    for i = 1, c & 15 do t[i], pos = mp_decode(s, pos, depth + 1) end
    return t, pos
  elseif c >= 0x80 and c <= 0x8f then
    local t = {}
    for _ = 1, c & 15 do
      local k, v
      k, pos = mp_decode(s, pos, depth + 1)
      v, pos = mp_decode(s, pos, depth + 1)
      if k ~= nil and k == k then t[k] = v end
    end
    return t, pos
  elseif c == 0xc0 then return nil, pos
  elseif c == 0xc2 then return false, pos
  elseif c == 0xc3 then return true, pos
  elseif c == 0xca then mp_need(s, pos, 4) return sunpack(">f", s, pos), pos + 4
  elseif c == 0xcb then mp_need(s, pos, 8) return sunpack(">d", s, pos), pos + 8
  elseif c == 0xcc then mp_need(s, pos, 1) return sunpack(">I1", s, pos), pos + 1
  elseif c == 0xcd then mp_need(s, pos, 2) return sunpack(">I2", s, pos), pos + 2
  elseif c == 0xce then mp_need(s, pos, 4) return sunpack(">I4", s, pos), pos + 4
  elseif c == 0xcf then mp_need(s, pos, 8) return sunpack(">i8", s, pos), pos + 8
  elseif c == 0xd0 then mp_need(s, pos, 1) return sunpack(">i1", s, pos), pos + 1
  elseif c == 0xd1 then mp_need(s, pos, 2) return sunpack(">i2", s, pos), pos + 2
  elseif c == 0xd2 then mp_need(s, pos, 4) return sunpack(">i4", s, pos), pos + 4
  elseif c == 0xd3 then mp_need(s, pos, 8) return sunpack(">i8", s, pos), pos + 8
  elseif c == 0xd9 or c == 0xc4 then
    mp_need(s, pos, 1) local l = sbyte(s, pos) pos = pos + 1
    mp_need(s, pos, l) return ssub(s, pos, pos + l - 1), pos + l
  elseif c == 0xda or c == 0xc5 then
    mp_need(s, pos, 2) local l = sunpack(">I2", s, pos) pos = pos + 2
    mp_need(s, pos, l) return ssub(s, pos, pos + l - 1), pos + l
  elseif c == 0xdb or c == 0xc6 then
    mp_need(s, pos, 4) local l = sunpack(">I4", s, pos) pos = pos + 4
    mp_need(s, pos, l) return ssub(s, pos, pos + l - 1), pos + l
  elseif c == 0xdc or c == 0xdd then
    local w = c == 0xdc and 2 or 4
    mp_need(s, pos, w) local n = sunpack(">I" .. w, s, pos) pos = pos + w
    -- Every element takes at least one byte: refuse counts the input cannot hold (no huge loops).
    mp_need(s, pos, n)
    local t = {}
    for i = 1, n do t[i], pos = mp_decode(s, pos, depth + 1) end
    return t, pos
  elseif c == 0xde or c == 0xdf then
    local w = c == 0xde and 2 or 4
    mp_need(s, pos, w) local n = sunpack(">I" .. w, s, pos) pos = pos + w
    mp_need(s, pos, 2 * n)
    local t = {}
    for _ = 1, n do
      local k, v
      k, pos = mp_decode(s, pos, depth + 1)
      v, pos = mp_decode(s, pos, depth + 1)
      if k ~= nil and k == k then t[k] = v end
    end
    return t, pos
  else
    error("Bad data format in input.", 0)
  end
end

local function mp_unpack(s, limit, offset)
  if type(s) ~= "string" then error("bad argument #1 to 'unpack' (string expected, got " .. type(s) .. ")", 0) end
  local pos = (offset or 0) + 1
  if pos < 1 or (pos > #s + 1) then error("Start offset " .. tostring(offset) .. " greater than input length " .. #s .. ".", 0) end
  local out, n = {}, 0
  while pos <= #s and (limit == 0 or n < limit) do
    local ok, v, np = raw_pcall(mp_decode, s, pos, 0)
    if not ok then error(v, 0) end
    n = n + 1
    out[n] = v
    pos = np
  end
  return out, n, pos
end
function cmsgpack.unpack(s)
  local out, n = mp_unpack(s, 0, 0)
  return table.unpack(out, 1, n)
end
function cmsgpack.unpack_one(s, offset)
  local out, n, pos = mp_unpack(s, 1, offset or 0)
  local next_off = pos > #s and -1 or pos - 1
  return next_off, table.unpack(out, 1, n)
end
function cmsgpack.unpack_limit(s, limit, offset)
  local out, n, pos = mp_unpack(s, tonumber(limit) or 0, offset or 0)
  local next_off = pos > #s and -1 or pos - 1
  return next_off, table.unpack(out, 1, n)
end

---------------------------------------------------------------------------------------------------
-- cjson: lua-cjson's API (encode/decode and its configuration functions).
local cjson = {}
local array_mt = {}
local cfg = {
  encode_max_depth = 1000, decode_max_depth = 1000, encode_precision = 14,
  sparse_convert = false, sparse_ratio = 2, sparse_safe = 10,
  encode_invalid = false, decode_invalid = true, keep_buffer = true, decode_array_mt = false,
}
local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['/'] = '\\/', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
for i = 0, 31 do local ch = schar(i) if not escapes[ch] then escapes[ch] = sfmt("\\u%04x", i) end end
escapes["\127"] = "\\u007f"

local function json_number(n)
  if n ~= n or n == huge or n == -huge then
    if not cfg.encode_invalid then error("Cannot serialise number: must not be NaN or Inf", 0) end
    if n ~= n then return "nan" end
    return n > 0 and "inf" or "-inf"
  end
  if mtype(n) == "integer" then
    -- lua-cjson formats every number with %.14g; keep that output for exact Redis compatibility.
    n = n + 0.0
  end
  return sfmt("%." .. cfg.encode_precision .. "g", n)
end

local json_encode
local function json_table(buf, t, depth)
  if depth > cfg.encode_max_depth then error(sfmt("Cannot serialise, excessive nesting (%d)", depth), 0) end
  -- Array detection as lua-cjson does it: positive integer keys only; excessively sparse arrays refused.
  local max, items, is_array = 0, 0, true
  for k in next, t do
    local kk = k
    if mtype(kk) == "float" and kk == floor(kk) and kk >= 1 then kk = math.tointeger(kk) or 0 end
    if mtype(kk) == "integer" and kk >= 1 then
      if kk > max then max = kk end
      items = items + 1
    else
      is_array = false
      break
    end
  end
  if is_array and max > 0 and cfg.sparse_ratio > 0 and max > items * cfg.sparse_ratio and max > cfg.sparse_safe then
    if not cfg.sparse_convert then error("Cannot serialise table: excessively sparse array", 0) end
    is_array = false
  end
  if getmetatable(t) == array_mt and max == 0 then is_array, max = true, 0 end
  if is_array and (max > 0 or getmetatable(t) == array_mt) then
    buf[#buf + 1] = "["
    for i = 1, max do
      if i > 1 then buf[#buf + 1] = "," end
      json_encode(buf, rawget(t, i), depth)
    end
    buf[#buf + 1] = "]"
  else
    buf[#buf + 1] = "{"
    local first = true
    for k, v in next, t do
      if not first then buf[#buf + 1] = "," end
      first = false
      local tk = type(k)
      if tk == "string" then
        buf[#buf + 1] = '"' .. k:gsub('[%c"\\/\127]', escapes) .. '"'
      elseif tk == "number" then
        buf[#buf + 1] = '"' .. json_number(k) .. '"'
      else
        error("Cannot serialise " .. tk .. ": table key must be a number or string", 0)
      end
      buf[#buf + 1] = ":"
      json_encode(buf, v, depth)
    end
    buf[#buf + 1] = "}"
  end
end
json_encode = function(buf, v, depth)
  local t = type(v)
  if t == "string" then buf[#buf + 1] = '"' .. v:gsub('[%c"\\/\127]', escapes) .. '"'
  elseif t == "number" then buf[#buf + 1] = json_number(v)
  elseif t == "boolean" then buf[#buf + 1] = v and "true" or "false"
  elseif t == "nil" or rawequal(v, null) then buf[#buf + 1] = "null"
  elseif t == "table" then json_table(buf, v, depth + 1)
  else error("Cannot serialise " .. t .. ": type not supported", 0) end
end
function cjson.encode(...)
  if select("#", ...) ~= 1 then error("bad argument #1 to 'encode' (expected 1 argument)", 0) end
  local buf = {}
  local ok, e = raw_pcall(json_encode, buf, (...), 0)
  if not ok then error(e, 0) end
  return tconcat(buf)
end

local function utf8_of(cp)
  if cp < 0x80 then return schar(cp)
  elseif cp < 0x800 then return schar(0xc0 | (cp >> 6), 0x80 | (cp & 63))
  elseif cp < 0x10000 then return schar(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63))
  else return schar(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)) end
end

local function json_decoder(s)
  local pos, len = 1, #s
  local function token_name()
    local c = ssub(s, pos, pos)
    if pos > len then return "T_END" end
    if c == "{" then return "T_OBJ_BEGIN" elseif c == "}" then return "T_OBJ_END"
    elseif c == "[" then return "T_ARR_BEGIN" elseif c == "]" then return "T_ARR_END"
    elseif c == "," then return "T_COMMA" elseif c == ":" then return "T_COLON"
    elseif c == '"' then return "T_STRING"
    elseif sfind(c, "[%-%d]") then return "T_NUMBER"
    elseif ssub(s, pos, pos + 3) == "true" or ssub(s, pos, pos + 4) == "false" then return "T_BOOLEAN"
    elseif ssub(s, pos, pos + 3) == "null" then return "T_NULL" end
    return "invalid token"
  end
  local function fail(what)
    error(sfmt("Expected %s but found %s at character %d", what, token_name(), pos), 0)
  end
  local function skip()
    local _, e = sfind(s, "^[ \t\r\n]*", pos)
    pos = e + 1
  end
  local value
  local function str()
    pos = pos + 1
    local parts = {}
    while true do
      local a, b = sfind(s, '^[^"\\]+', pos)
      if a then parts[#parts + 1] = ssub(s, a, b) pos = b + 1 end
      local c = ssub(s, pos, pos)
      if c == '"' then pos = pos + 1 break
      elseif c == "\\" then
        local e = ssub(s, pos + 1, pos + 1)
        local map = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
        if map[e] then parts[#parts + 1] = map[e] pos = pos + 2
        elseif e == "u" then
          local hex = ssub(s, pos + 2, pos + 5)
          local cp = #hex == 4 and sfind(hex, "^%x%x%x%x$") and tonumber(hex, 16)
          if not cp then error(sfmt("Expected value but found invalid unicode escape code at character %d", pos), 0) end
          pos = pos + 6
          if cp >= 0xd800 and cp <= 0xdbff then
            local lo = ssub(s, pos, pos + 1) == "\\u" and ssub(s, pos + 2, pos + 5)
            local lcp = lo and sfind(lo, "^%x%x%x%x$") and tonumber(lo, 16)
            if not lcp or lcp < 0xdc00 or lcp > 0xdfff then error(sfmt("Expected value but found invalid unicode escape code at character %d", pos - 6), 0) end
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lcp - 0xdc00)
            pos = pos + 6
          elseif cp >= 0xdc00 and cp <= 0xdfff then
            error(sfmt("Expected value but found invalid unicode escape code at character %d", pos - 6), 0)
          end
          parts[#parts + 1] = utf8_of(cp)
        else
          error(sfmt("Expected value but found invalid escape code at character %d", pos), 0)
        end
      else
        error(sfmt("Expected value but found unexpected end of string at character %d", pos), 0)
      end
    end
    return tconcat(parts)
  end
  value = function(depth)
    skip()
    local c = ssub(s, pos, pos)
    if c == "{" then
      if depth >= cfg.decode_max_depth then error(sfmt("Found too many nested data structures (%d) at character %d", depth + 1, pos), 0) end
      pos = pos + 1
      local t = {}
      skip()
      if ssub(s, pos, pos) == "}" then pos = pos + 1 return t end
      while true do
        skip()
        if ssub(s, pos, pos) ~= '"' then fail("object key string") end
        local k = str()
        skip()
        if ssub(s, pos, pos) ~= ":" then fail("colon") end
        pos = pos + 1
        t[k] = value(depth + 1)
        skip()
        local d = ssub(s, pos, pos)
        if d == "}" then pos = pos + 1 return t end
        if d ~= "," then fail("comma or object end") end
        pos = pos + 1
      end
    elseif c == "[" then
      if depth >= cfg.decode_max_depth then error(sfmt("Found too many nested data structures (%d) at character %d", depth + 1, pos), 0) end
      pos = pos + 1
      local t = {}
      if cfg.decode_array_mt then setmetatable(t, array_mt) end
      skip()
      if ssub(s, pos, pos) == "]" then pos = pos + 1 return t end
      local i = 0
      while true do
        i = i + 1
        t[i] = value(depth + 1)
        skip()
        local d = ssub(s, pos, pos)
        if d == "]" then pos = pos + 1 return t end
        if d ~= "," then fail("comma or array end") end
        pos = pos + 1
      end
    elseif c == '"' then return str()
    elseif ssub(s, pos, pos + 3) == "true" then pos = pos + 4 return true
    elseif ssub(s, pos, pos + 4) == "false" then pos = pos + 5 return false
    elseif ssub(s, pos, pos + 3) == "null" then pos = pos + 4 return null
    else
      local a, b = sfind(s, "^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if a then
        local text = ssub(s, a, b)
        local n = (not sfind(text, "[.eE]")) and math.tointeger(tonumber(text)) or tonumber(text)
        if n == nil then fail("value") end
        -- Integral text within 64 bits stays a Lua integer; anything else is a float (as strtod).
        if mtype(n) == "integer" and #text > 18 and tostring(n) ~= text then n = tonumber(text .. ".0") end
        -- An integral float below 2^53 (`1.0`, `-5e3`) becomes an integer too, so that it prints
        -- as Lua 5.1 printed it in Redis ("1", "-5000"); -0.0 stays a float.
        if mtype(n) == "float" and n == n // 1 and n > -9007199254740992 and n < 9007199254740992
           and not (n == 0 and 1 / n < 0) then
          n = math.tointeger(n)
        end
        pos = b + 1
        return n
      end
      fail("value")
    end
  end
  return function()
    local v = value(0)
    skip()
    if pos <= len then fail("the end") end
    return v
  end
end
function cjson.decode(s)
  if type(s) ~= "string" then error("bad argument #1 to 'decode' (string expected, got " .. type(s) .. ")", 0) end
  local ok, v = raw_pcall(json_decoder(s))
  if not ok then error(v, 0) end
  return v
end
local function cfg_fn(key, kind)
  return function(v)
    if v ~= nil then
      if kind == "int" then v = tonumber(v) if not v or v < 1 or v > 2147483647 then error("bad argument #1 (expected integer between 1 and 2147483647)", 0) end
      elseif kind == "prec" then v = tonumber(v) if not v or v < 1 or v > 14 then error("bad argument #1 (expected integer between 1 and 14)", 0) end
      else if v == "on" then v = true elseif v == "off" then v = false else v = not not v end end
      cfg[key] = (kind == "int" or kind == "prec") and math.tointeger(v) or v
    end
    return cfg[key]
  end
end
cjson.encode_max_depth = cfg_fn("encode_max_depth", "int")
cjson.decode_max_depth = cfg_fn("decode_max_depth", "int")
cjson.encode_number_precision = cfg_fn("encode_precision", "prec")
cjson.encode_keep_buffer = cfg_fn("keep_buffer", "bool")
cjson.encode_invalid_numbers = cfg_fn("encode_invalid", "bool")
cjson.decode_invalid_numbers = cfg_fn("decode_invalid", "bool")
cjson.decode_array_with_array_mt = cfg_fn("decode_array_mt", "bool")
function cjson.encode_sparse_array(convert, ratio, safe)
  if convert ~= nil then cfg.sparse_convert = not not convert end
  if ratio ~= nil then cfg.sparse_ratio = tonumber(ratio) or cfg.sparse_ratio end
  if safe ~= nil then cfg.sparse_safe = tonumber(safe) or cfg.sparse_safe end
  return cfg.sparse_convert, cfg.sparse_ratio, cfg.sparse_safe
end
cjson.null = null
cjson.array_mt = array_mt
cjson._NAME = "cjson"
cjson._VERSION = "2.1.0"
cjson.new = function() return cjson end

---------------------------------------------------------------------------------------------------
-- The sandbox: a global table G holding only safe functions; scripts see it through `env`.
local G = {}

-- Errors that tables carry ({err=...}) reach a script's own pcall as their message string.
local function pcall_result(ok, ...)
  if ok then return ok, ... end
  if H.killed() then error((...), 0) end
  local e = ...
  if type(e) == "table" and type(rawget(e, "err")) == "string" then return false, rawget(e, "err") end
  return false, e
end
function G.pcall(f, ...) return pcall_result(raw_pcall(f, ...)) end
function G.xpcall(f, h, ...)
  return pcall_result(raw_xpcall(f, function(e)
    if type(e) == "table" and type(rawget(e, "err")) == "string" then e = rawget(e, "err") end
    return h(e)
  end, ...))
end

local env
-- Text chunks only (no bytecode: CVE-2015-4335); chunks run in the sandbox unless given an env.
local function safe_load(chunk, name, mode, e)
  if type(chunk) == "string" and sbyte(chunk, 1) == 27 then return nil, "attempt to load a binary chunk (mode is 't')" end
  if e == nil then e = env end
  return raw_load(chunk, name, "t", e)
end
G.load = function(chunk, name, mode, e) return safe_load(chunk, name, mode, e) end
G.loadstring = function(s, name)
  if type(s) ~= "string" then error("bad argument #1 to 'loadstring' (string expected, got " .. type(s) .. ")", 0) end
  return safe_load(s, name or s)
end

for _, k in ipairs({ "assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget", "rawlen", "select",
                     "tonumber", "tostring", "type", "setmetatable", "getmetatable", "collectgarbage" }) do
  G[k] = _G[k]
end
G.collectgarbage = function(opt, ...)
  opt = opt or "collect"
  if opt == "collect" or opt == "count" or opt == "step" or opt == "isrunning" then return collectgarbage(opt, ...) end
  error("bad argument #1 to 'collectgarbage' (option '" .. tostring(opt) .. "' is not allowed)", 0)
end
G.rawset = function(t, k, v)
  if readonly[t] then error("Attempt to modify a readonly table", 0) end
  return rawset(t, k, v)
end
G.setmetatable = function(t, mt)
  if readonly[t] then error("Attempt to modify a readonly table", 0) end
  -- Finalizers would run at some later garbage collection, outside the script's time limit.
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then error("__gc metamethods are not allowed in scripts", 0) end
  return setmetatable(t, mt)
end
G.unpack = table.unpack
G._VERSION = _VERSION

local function copy(src, names)
  local t = {}
  for _, k in ipairs(names) do t[k] = src[k] end
  return t
end
local stringlib = copy(string, { "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match",
                                  "rep", "reverse", "sub", "upper", "pack", "packsize", "unpack", "dump" })
local tablelib = copy(table, { "concat", "insert", "move", "pack", "remove", "sort", "unpack" })
tablelib.getn = function(t) return #t end
tablelib.maxn = function(t)
  local m = 0
  for k in next, t do if type(k) == "number" and k > m then m = k end end
  return m
end
local mathlib = {}
for k, v in pairs(math) do mathlib[k] = v end
mathlib.mod = math.fmod
mathlib.pow = function(a, b) return a ^ b end
mathlib.ldexp = function(m, e) return m * 2.0 ^ e end
mathlib.log10 = function(x) return math.log(x, 10) end
-- math.random is deterministic per script, as in Redis (seeded before every run by the host).
local oslib = { clock = os.clock }

-- Library functions run behind a C frame so their errors name the script line that called them,
-- even from a tail call (`return cjson.encode(x)`), as lua-cjson and friends do in Redis.
for _, lib in ipairs({ bit, struct, cmsgpack, cjson }) do
  for k, f in pairs(lib) do
    if type(f) == "function" then lib[k] = H.positioned(f) end
  end
end
G.string = freeze(stringlib)
G.table = freeze(tablelib)
G.math = freeze(mathlib)
G.utf8 = freeze(copy(utf8, { "char", "charpattern", "codes", "codepoint", "len", "offset" }))
G.coroutine = freeze(copy(coroutine, { "create", "resume", "running", "status", "wrap", "yield", "isyieldable", "close" }))
G.os = freeze(oslib)
G.bit = freeze(bit)
G.struct = freeze(struct)
G.cmsgpack = freeze(cmsgpack)
G.cjson = freeze(cjson)

-- The metatable of the scripts' globals (filled below): its __index is G, or while a function
-- library's top level runs, `load_index`.
local envmt = {}

-- Modules shared between function libraries (sandboxed require, filled by the host at load time).
local modules, loaded = {}, {}
G.require = function(name)
  if type(name) ~= "string" then error("bad argument #1 to 'require' (string expected, got " .. type(name) .. ")", 0) end
  local v = loaded[name]
  if v ~= nil then return v end
  local f = modules[name]
  if f == nil then error("module '" .. name .. "' not found (only modules loaded from lua-library-dir can be required)", 0) end
  loaded[name] = true
  -- A module's top level sees every global (modules are Lunar's own), even while a library loads.
  local saved = envmt.__index
  envmt.__index = G
  local restore <close> = setmetatable({}, { __close = function() envmt.__index = saved end })
  local r = f(name)
  if r == nil then r = true end
  loaded[name] = r
  return r
end

-- Sandbox builtins raise position-less errors (as Redis's C versions do) but keep a C frame so
-- the error handler still finds the script line even after a tail call.
for _, k in ipairs({ "rawset", "setmetatable", "require", "load", "loadstring", "collectgarbage" }) do
  G[k] = H.positioned(G[k], false)
end

-- The `redis` table.
local redis = {}
redis.call = H.call
redis.pcall = H.pcall
redis.sha1hex = H.sha1hex
redis.log = H.log
redis.setresp = H.setresp
redis.set_repl = H.set_repl
redis.acl_check_cmd = H.acl_check_cmd
redis.replicate_commands = function() return true end
redis.breakpoint = H.breakpoint
redis.debug = H.debug
redis.error_reply = function(...)
  local e = ...
  if select("#", ...) ~= 1 or type(e) ~= "string" then
    return { err = "ERR wrong number or type of arguments" }
  end
  -- "-CODE msg" and "CODE msg" keep their first word as the code; a single word gets ERR.
  if ssub(e, 1, 1) == "-" then e = ssub(e, 2) end
  e = e:gsub("[\r\n]+$", "")
  if not sfind(e, " ", 1, true) then return { err = "ERR " .. e } end
  return { err = e }
end
redis.status_reply = function(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return { err = "ERR wrong number or type of arguments" }
  end
  return { ok = s }
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = H.version
redis.REDIS_VERSION_NUM = H.version_num
G.redis = freeze(redis)

-- While a function library loads, `redis` offers only what Redis offers then (register_function, log…).
local loadredis = {}
for _, k in ipairs({ "register_function", "log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING",
                     "REDIS_VERSION", "REDIS_VERSION_NUM" }) do loadredis[k] = redis[k] end
-- Only there: a running function finds no redis.register_function, as in Redis.
loadredis.register_function = H.register_function
local loadredis_view = setmetatable({}, {
  __index = function(_, k)
    local v = loadredis[k]
    if v == nil then error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end
    return v
  end,
  __newindex = ro_newindex, __metatable = false,
})
readonly[loadredis_view] = true

-- Reading a global that does not exist is an error, as in Redis.
setmetatable(G, {
  __index = function(_, k) error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end,
  __newindex = ro_newindex, __metatable = false,
})
readonly[G] = true

-- What scripts see as their globals: reads fall through to G, every write is refused.
envmt.__index = G
envmt.__newindex = ro_newindex
-- getmetatable(_G) gives a read-only stand-in, so changing it fails as in Redis.
envmt.__metatable = freeze({})
envmt.__pairs = function() return next, G, nil end
env = setmetatable({}, envmt)
readonly[env] = true
rawset(G, "_G", env)

-- While a function library's top level runs, Redis offers it no global but `redis` (and Lunar adds
-- `require`): anything else is a nonexistent global, as there.
local function load_index(_, k)
  if k == "redis" or k == "require" then return G[k] end
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end

-- Basic-type metatables are frozen: string methods keep working, the metatable itself is hidden.
local smt = getmetatable("")
smt.__index = stringlib
smt.__metatable = freeze({})

-- Message handler for every script run: errors become {err=..., source=..., line=...}.
local function errh(e)
  -- The innermost frame of user code (skip C functions and this prelude).
  local info
  for level = 2, 64 do
    local i = getinfo(level, "Sl")
    if not i then break end
    if i.what ~= "C" and i.source ~= "=lunar_prelude" then info = i break end
  end
  local t
  if type(e) == "table" and type(rawget(e, "err")) == "string" then
    t = { err = rawget(e, "err"), ignore_error_stats_update = rawget(e, "ignore_error_stats_update") }
  else
    t = { err = "ERR " .. tostring(e) }
  end
  if info then
    t.source = info.source
    t.line = info.currentline
  end
  return t
end

-- Compile a library or module chunk with its own (sandboxed) environment.
local function compile(code, chunkname)
  return raw_load(code, chunkname, "t", env)
end

return { env = env, G = G, errh = errh, modules = modules, loaded = loaded, compile = compile,
         redis = G.redis, loadredis = loadredis_view, envmt = envmt, load_index = load_index }
"""#
}
