#!/usr/bin/env python3
"""
The tables of native/float_native.c's fast GELU path: GELU_G (G(t) = log(erfc(t / sqrt 2)) + t^2/2,
a degree-9 polynomial in s = t - (17i/32 + 17/64) on each interval [17i/32, 17(i+1)/32), i < 16,
by interpolation at Chebyshev nodes) and EXP2_16 (2^(j/16)), as C hex-float literals, computed
with mpmath at 50 digits:
    python3 tools/gen-gelu-coefs.py           # the C declarations
    python3 tools/gen-gelu-coefs.py --check   # the polynomials' largest error against G (exact arithmetic on the
                                              # rounded coefficients; the kernel's double evaluation adds a few 2^-53)
"""
import sys

import mpmath as mp

mp.mp.dps = 50
DEG, N, WIDTH = 9, 16, mp.mpf(17) / 32


def G(t):
    return mp.log(mp.erfc(t / mp.sqrt(2))) + t * t / 2


def fit(a, b):
    c, h, n = (a + b) / 2, (b - a) / 2, DEG + 1
    xs = [c + h * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]
    A = mp.matrix([[(x - c) ** j for j in range(n)] for x in xs])
    co = mp.lu_solve(A, mp.matrix([G(x) for x in xs]))
    return [float(co[j]) for j in range(n)]


coefs = [fit(i * WIDTH, (i + 1) * WIDTH) for i in range(N)]

if "--check" in sys.argv:
    worst = mp.mpf(0)
    for i, co in enumerate(coefs):
        c = (i + mp.mpf(1) / 2) * WIDTH
        for k in range(201):
            t = i * WIDTH + WIDTH * k / 200
            worst = max(worst, abs(sum(mp.mpf(co[j]) * (t - c) ** j for j in range(DEG + 1)) - G(t)))
    print(f"largest |P - G| on [0, 8.5): 2^{float(mp.log(worst, 2)):.2f}")
else:
    print(f"static const double GELU_G[{DEG + 1}][{N}] = {{")
    for j in range(DEG + 1):
        print("  {" + ", ".join(float.hex(coefs[i][j]) for i in range(N)) + "},")
    print("};")
    print("static const double EXP2_16[16] = {" + ", ".join(float.hex(float(mp.power(2, mp.mpf(j) / 16))) for j in range(16)) + "};")
