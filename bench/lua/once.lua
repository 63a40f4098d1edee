-- Every line of the plan at most once (a checkout per student, a rush): a
-- thread whose lines are all sent waits, idle, until the run ends.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

local ONE_HOUR_MS = 3600 * 1000

-- wrk asks delay() before every request, and a connection sends only after
-- its delay passed: so the lines are handed out here, not in request(), or
-- two connections waiting at once could both be promised the last line.
local promised = 0

function delay()
   if promised >= plan_limit() then
      exhausted = 1
      return ONE_HOUR_MS
   end
   promised = promised + 1
   return 0
end

-- A thread whose every line was answered stops, and says so: the benchmark
-- ends the run once every thread has (wrk would otherwise wait out -d).
local count_answer = response

function response(status, headers, body)
   count_answer(status, headers, body)
   if answered + refused >= plan_limit() then
      io.stderr:write("BENCH-THREAD-DONE\n")
      wrk.thread:stop()
   end
end
