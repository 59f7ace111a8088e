# interp.py: the same benchmark as interp.lsp, in Python, for the ratio.
import time

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def arith(n):
    s = 0
    for i in range(1, n + 1):
        s = s + i * 0.5
    return s

def best_of_3(f, arg):
    best = 1e9
    for _ in range(3):
        t0 = time.perf_counter()
        f(arg)
        best = min(best, time.perf_counter() - t0)
    return best

print("fib25 %.4f" % best_of_3(fib, 25))
print("fib30 %.4f" % best_of_3(fib, 30))
print("loop3M %.4f" % best_of_3(arith, 3000000))
