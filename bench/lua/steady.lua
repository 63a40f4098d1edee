-- Steady load: the plan's lines over and over (see common.lua).
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")
