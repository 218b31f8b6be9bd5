#!/usr/bin/env python3
"""
The tables of native/float_native.c's fast GELU path: GELU_H (H(t) = log(erfc(t / sqrt 2)), a
degree-9 polynomial in s = t - i * GELU_STEP on each interval |s| <= 0.28 around the centers
i * GELU_STEP, i < 16, GELU_STEP = the double nearest 17/31, by interpolation at Chebyshev nodes)
and EXP2_16 (2^(j/16)), as C hex-float literals, computed with mpmath at 50 digits:
    python3 tools/gen-gelu-coefs.py           # the C declarations
    python3 tools/gen-gelu-coefs.py --check   # the polynomials' largest error against H (exact arithmetic on the
                                              # rounded coefficients; the kernel's double evaluation adds a few 2^-53)
"""
import sys

import mpmath as mp

mp.mp.dps = 50
DEG, N, HALF = 9, 16, mp.mpf("0.28")
STEP = mp.mpf(17.0 / 31)  # the double, as the kernel's s = t - i * GELU_STEP uses it


def H(t):
    return mp.log(mp.erfc(t / mp.sqrt(2)))


def fit(c, h):
    n = DEG + 1
    xs = [c + h * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]
    A = mp.matrix([[(x - c) ** j for j in range(n)] for x in xs])
    co = mp.lu_solve(A, mp.matrix([H(x) for x in xs]))
    return [float(co[j]) for j in range(n)]


coefs = [fit(i * STEP, HALF) for i in range(N)]

if "--check" in sys.argv:
    worst = mp.mpf(0)
    for i, co in enumerate(coefs):
        c = i * STEP
        for k in range(201):
            t = c + HALF * (2 * mp.mpf(k) / 200 - 1)
            worst = max(worst, abs(sum(mp.mpf(co[j]) * (t - c) ** j for j in range(DEG + 1)) - H(t)))
    print(f"largest |P - H| on the intervals: 2^{float(mp.log(worst, 2)):.2f}")
else:
    print(f"static const double GELU_H[{DEG + 1}][{N}] = {{")
    for j in range(DEG + 1):
        print("  {" + ", ".join(float.hex(coefs[i][j]) for i in range(N)) + "},")
    print("};")
    print("static const double EXP2_16[16] = {" + ", ".join(float.hex(float(mp.power(2, mp.mpf(j) / 16))) for j in range(16)) + "};")
