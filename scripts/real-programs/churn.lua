-- Allocation-heavy Lua: tables of strings, string concatenation, table.concat, gsub.
local n = tonumber(arg[1]) or 200000
local acc = 0
for rnd = 0, 3 do
  local t = {}
  for i = 0, n - 1 do
    local k = "key-" .. ((i * 7919) % n) .. "-" .. rnd
    t[k] = { string.upper(k), i, string.rep("v", i % 40) }
  end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local s = table.concat(keys, ",", 1, 10000)
  local u, c = s:gsub("key%-(%d+)", "K%1K")
  acc = acc + c + #u
  local inv = {}
  for _, k in ipairs(keys) do inv[t[k][3] .. k] = true end
  for _ in pairs(inv) do acc = acc + 1 end
end
print(acc)
