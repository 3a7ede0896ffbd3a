local t = {}
for i = 1, 300000 do t[i] = {i, tostring(i) .. string.rep("x", i % 40)} end
table.sort(t, function(a, b) return a[2] < b[2] end)
local s = 0 for i = 1, #t, 1000 do s = s + t[i][1] end print(s)
local parts = {} for i = 1, 100000 do parts[#parts+1] = string.format("%d:%s", i, ("ab"):rep(i % 7)) end
local big = table.concat(parts, ";") print(#big)
local n = 0 for w in big:gmatch("%d+:ab") do n = n + 1 end print(n)
local co = {} for i = 1, 1000 do co[i] = coroutine.wrap(function() local l = {} for j = 1, 200 do l[j] = j .. "" coroutine.yield(#l) end end) end
local c = 0 for r = 1, 200 do for i = 1, 1000 do c = c + co[i]() end end print(c)
t = nil collectgarbage() print(collectgarbage("count") > 0)
