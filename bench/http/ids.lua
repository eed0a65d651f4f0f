-- Loaded by get.lua and patch.lua: the ids of existing references, one per line in the file $IDS_FILE
-- (written by scripts/bench_http.sh after the POST runs, like Directus's MAXID).
local ids = {}
local f = assert(io.open(assert(os.getenv("IDS_FILE"), "IDS_FILE not set"), "r"))
for line in f:lines() do if #line > 0 then ids[#ids + 1] = line end end
f:close()
assert(#ids > 0, "IDS_FILE is empty")
return ids
