-- wrk: GET /v1/refs/sites/site/{id}, id uniform over every reference created by the POST runs
-- (as ../shared/peers/directus/get.lua: uniform in [1, MAXID]). Env: BVER_KEY, IDS_FILE.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local ids = dofile(here .. "ids.lua")
local key = os.getenv("BVER_KEY")
request = function()
  return wrk.format("GET", "/v1/refs/sites/site/" .. ids[math.random(1, #ids)], {["Authorization"] = "Bearer " .. key})
end
