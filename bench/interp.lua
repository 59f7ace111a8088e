-- interp.lua: the same benchmark as interp.lsp, in Lua 5.4, for the ratio.
local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local function arith(n)
  local s = 0
  for i = 1, n do s = s + i * 0.5 end
  return s
end

local function best_of_3(f, arg)
  local best = 1e9
  for _ = 1, 3 do
    local t0 = os.clock()
    f(arg)
    best = math.min(best, os.clock() - t0)
  end
  return best
end

print(string.format("fib25 %.4f", best_of_3(fib, 25)))
print(string.format("fib30 %.4f", best_of_3(fib, 30)))
print(string.format("loop3M %.4f", best_of_3(arith, 3000000)))
