"""Fits the rational approximations of the CPU kernels, f(x) ~ x*P(x^2)/Q(x^2) for an odd f:
erf on [0, 4] (models/src/kernels/gelu.rs), tanh on [0, 9] (models/src/kernels/dyt.rs).

Linearised least squares (x*P - f*Q = 0 with Q(0) = 1), reweighted on each pass towards the
points where the error is largest, so that the result comes close to minimax. Needs numpy only.
Prints the coefficients (lowest power first) and the largest error on a fine grid, in f64.

    python3 tools/kernels/fit_rational.py erf|tanh [NUMERATOR_DEGREE DENOMINATOR_DEGREE]
"""

import math
import sys

import numpy as np

# The function and the end of the range past which it rounds to +-1 in f32.
FUNCTIONS = {"erf": (np.vectorize(math.erf), 4.0), "tanh": (np.tanh, 9.0)}


def fit(function, numerator_degree, denominator_degree, high, passes=60):
    count = 4000
    chebyshev = high / 2 * (1 - np.cos(np.pi * (np.arange(count) + 0.5) / count))
    x = np.sort(np.concatenate([chebyshev, np.linspace(0.0, high, count)]))
    y, target = x * x, function(x)
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
    name = sys.argv[1] if len(sys.argv) > 1 else "erf"
    function, high = FUNCTIONS[name]
    degrees = [int(d) for d in sys.argv[2:4]] or [6, 5]
    p, q = fit(function, *degrees, high)
    x = np.linspace(0.0, high, 800_001)
    error = np.abs(x * np.polyval(p[::-1], x * x) / np.polyval(q[::-1], x * x) - function(x))
    print("numerator:  ", [float(c) for c in p])
    print("denominator:", [float(c) for c in q])
    print(f"largest error of {name} on [0, {high:g}]: {error.max():.3g}")


if __name__ == "__main__":
    main()
