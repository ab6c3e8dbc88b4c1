-- inc-server.lua PORT -- for Lua 5.4 and LuaJIT (RealRuntimesTest): a select loop serving GET /inc,
-- the counter one more each time, to kept-alive clients, each client read by a coroutine of its
-- own; between requests a hot loop (which LuaJIT compiles to machine code in its mcode area).
local socket = require("socket")
local srv = assert(socket.bind("127.0.0.1", tonumber(arg[1])))
srv:settimeout(0)
local n, clients, work = 0, {}, 0
local function hot() local s = 0 for i = 1, 200000 do s = s + (i * 31) % 7 end return s end
local function serve(c)
  return coroutine.wrap(function()
    while true do
      local line, err = c:receive("*l")
      if line == "" then
        n = n + 1
        local b = tostring(n)
        c:send("HTTP/1.1 200 OK\r\nContent-Length: " .. #b .. "\r\n\r\n" .. b)
      elseif not line and err ~= "timeout" then
        c:close()
        return "done"
      end
      coroutine.yield()
    end
  end)
end
print("ready")
io.stdout:flush()
while true do
  local r = {srv}
  for c in pairs(clients) do r[#r + 1] = c end
  for _, s in ipairs(socket.select(r, nil, 0.05)) do
    if s == srv then
      local c = srv:accept()
      if c then c:settimeout(0); clients[c] = serve(c) end
    elseif clients[s]() == "done" then
      clients[s] = nil
    end
  end
  work = work + hot()
end
