-- wrk: PATCH /v1/refs/sites/site/{id} with an RFC 7396 merge patch (each one a new version, an event
-- and a ledger entry), id uniform over every reference created by the POST runs. Same body shape as
-- ../shared/peers/directus/patch.lua (Directus writes an activity row and a revision row per update).
-- Env: BVER_KEY, IDS_FILE.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local ids = dofile(here .. "ids.lua")
local key = os.getenv("BVER_KEY")
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"voltage_levels_kv":[%d.25],"meta":{"region":"p","n":%d}}', 100 + n % 600, n)
  return wrk.format("PATCH", "/v1/refs/sites/site/" .. ids[math.random(1, #ids)], {["Content-Type"] = "application/merge-patch+json", ["Authorization"] = "Bearer " .. key}, body)
end
