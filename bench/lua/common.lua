-- Shared by steady.lua and once.lua: requests read from a plan file, one
-- request per line (method, path, bearer token, body, X-Forwarded-For;
-- tab-separated, "-" for none; five more fields pipeline a second request
-- behind the first), answers
-- counted by status, and a JSON summary printed by done().
--
--   wrk -t2 -c64 -d10s -s bench/lua/steady.lua URL -- PLAN OK_STATUSES THREADS

local threads = {}
local next_id = 1

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local plan = {}
local position, step, limit = 1, 1, 0
local accepted = {}
-- Globals: done() reads them from every thread with thread:get().
answered, refused, exhausted, sent = 0, 0, 0, 0
statuses = {}

local function split(line)
   local fields = {}
   for field in string.gmatch(line, "[^\t]+") do
      table.insert(fields, field)
   end
   return fields
end

local function format(method, path, token, body, client)
   local headers = {}
   if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
   if client ~= "-" then headers["X-Forwarded-For"] = client end
   if body == "-" then
      body = nil
   else
      headers["Content-Type"] = "application/json"
   end
   return wrk.format(method, path, headers, body)
end

local function read_plan(path)
   local lines = {}
   for line in io.lines(path) do
      local f = split(line)
      local text = format(f[1], f[2], f[3], f[4], f[5])
      if f[6] ~= nil then text = text .. format(f[6], f[7], f[8], f[9], f[10]) end
      table.insert(lines, text)
   end
   return lines
end

function init(args)
   plan = read_plan(args[1])
   for status in string.gmatch(args[2], "%d+") do accepted[tonumber(status)] = true end
   local count = tonumber(args[3])
   -- Thread n takes lines n, n + count, n + 2 count...: no two threads send
   -- the same line at once, and in once.lua no line is sent twice.
   position, step = id, count
   limit = math.floor((#plan - id) / count) + 1
end

function request()
   if #plan == 0 then
      -- wrk's own check of the script, before init(): it counts the requests
      -- each call returns (BENCH_PIPELINE when the plan pipelines two).
      return string.rep(wrk.format("GET", "/"), tonumber(os.getenv("BENCH_PIPELINE") or "1"))
   end
   local text = plan[position]
   position = position + step
   if position > #plan then position = id end
   sent = sent + 1
   return text
end

function response(status, headers, body)
   if accepted[status] then
      answered = answered + 1
   else
      refused = refused + 1
   end
   statuses[status] = (statuses[status] or 0) + 1
end

function plan_limit()
   return limit
end

local function json_object(map)
   local parts = {}
   for key, value in pairs(map) do
      table.insert(parts, string.format('"%s": %d', tostring(key), value))
   end
   return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
   local ok, bad, used_up, lines, codes = 0, 0, 0, 0, {}
   for _, thread in ipairs(threads) do
      lines = lines + thread:get("sent")
      ok = ok + thread:get("answered")
      bad = bad + thread:get("refused")
      used_up = used_up + thread:get("exhausted")
      for status, n in pairs(thread:get("statuses")) do
         codes[status] = (codes[status] or 0) + n
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH-RESULT {"requests": %d, "duration_us": %d, "answered": %d, "refused": %d, '
         .. '"socket_errors": %d, "timeouts": %d, "threads_used_up": %d, "in_flight": %d, '
         .. '"statuses": %s, '
         .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
      summary.requests, summary.duration, ok, bad,
      e.connect + e.read + e.write, e.timeout, used_up,
      -- Sent and not answered when the run ended (a pipelined line is two requests).
      lines * tonumber(os.getenv("BENCH_PIPELINE") or "1") - ok - bad, json_object(codes),
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
