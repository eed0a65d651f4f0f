-- wrk: POST /v1/refs/sites/site with a fresh JSON body per request (a new reference, id chosen by
-- the server). Same shape and size as ../shared/peers/directus/post.lua: a name, a number, a small
-- nested object; valid against the Site schema of examples/substation/bver.yaml.
-- Env: BVER_KEY (an API key, sent as a bearer token like Directus's static admin token).
local key = os.getenv("BVER_KEY")
local n = 0
local tid = math.random(1, 1000000)
request = function()
  n = n + 1
  local body = string.format('{"name":"site-%d-%d","voltage_levels_kv":[%d.5],"meta":{"region":"r%d","tags":["a","b"],"n":%d}}', tid, n, 100 + n % 400, n % 17, n)
  return wrk.format("POST", "/v1/refs/sites/site", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
