"""Fits the rational erf of models/src/kernels/gelu.rs: erf(x) ~ x*P(x^2)/Q(x^2) on [0, 4].

Linearised least squares (x*P - erf*Q = 0 with Q(0) = 1), reweighted on each pass towards the
points where the error is largest, so that the result comes close to minimax. Needs numpy only.
Prints the coefficients (lowest power first) and the largest error on a fine grid, in f64.

    python3 tools/kernels/fit_erf.py [NUMERATOR_DEGREE DENOMINATOR_DEGREE]
"""

import math
import sys

import numpy as np

erf = np.vectorize(math.erf)


def fit(numerator_degree, denominator_degree, high=4.0, passes=60):
    count = 4000
    chebyshev = high / 2 * (1 - np.cos(np.pi * (np.arange(count) + 0.5) / count))
    x = np.sort(np.concatenate([chebyshev, np.linspace(0.0, high, count)]))
    y, target = x * x, erf(x)
    numerator_powers = x[:, None] * y[:, None] ** np.arange(numerator_degree + 1)
    denominator_powers = -target[:, None] * y[:, None] ** np.arange(1, denominator_degree + 1)
    system = np.concatenate([numerator_powers, denominator_powers], axis=1)
    weight, denominator = np.ones_like(x), np.ones_like(x)
    for _ in range(passes):
        # Dividing by the last Q turns the linear residual into the real error.
        scale = weight / denominator
        solution, *_ = np.linalg.lstsq(system * scale[:, None], target * scale, rcond=None)
        p = solution[: numerator_degree + 1]
        q = np.concatenate([[1.0], solution[numerator_degree + 1 :]])
        denominator = np.polyval(q[::-1], y)
        error = np.abs(x * np.polyval(p[::-1], y) / denominator - target)
        weight *= 1 + error / error.max()
    return p, q


def main():
    degrees = [int(d) for d in sys.argv[1:3]] or [6, 5]
    p, q = fit(*degrees)
    x = np.linspace(0.0, 4.0, 800_001)
    error = np.abs(x * np.polyval(p[::-1], x * x) / np.polyval(q[::-1], x * x) - erf(x))
    print("numerator:  ", [float(c) for c in p])
    print("denominator:", [float(c) for c in q])
    print(f"largest error on [0, 4]: {error.max():.3g}")


if __name__ == "__main__":
    main()
