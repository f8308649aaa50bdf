"""R's `round(x, digits)` (R >= 4.0.0), vectorised: WHO anthro rounds every z-score with it.

R rounds to decimal digits with `fround` (src/nmath/fround.c): of the two candidates below and
above `x` on the 10^-digits grid, as doubles, it takes the one nearer to `x` when both distances
are computed in double precision, and on a tie the one whose last digit is even. This is neither
NumPy's `np.round` (scale, then round half to even: np.round(2.675, 2) is 2.68, R gives 2.67) nor
Python's `round` (from the exact binary value: round(4.595, 2) is 4.59, R gives 4.6). A value so
large that the rounding position lies beyond the 15 significant digits a double holds (|x| >= 2^43
for 2 digits) is returned unchanged, as R does. Checked equal to R 4.2.2 on 460,000 values for 0 to
3 digits.
"""

from __future__ import annotations

import functools
import math

import numpy as np

DBL_DIG = 15  # decimal digits a double holds (<float.h>)
M_LOG10_2 = 0.301029995663981195213738894724  # log10(2), as <Rmath.h>


def r_round(x, digits: int = 2) -> np.ndarray:
    """Round like R's `round(x, digits)` for 0 <= digits <= 15, element-wise.

    Args:
        x: number or array-like of numbers.
        digits: decimal digits to keep.

    Returns:
        float64 array of x's shape: NaN, +/-inf and 0 pass through; a zero result has no sign
        (R keeps -0, which compares equal to 0 and which R prints as 0).

    Raises:
        ValueError: if digits is not an integer between 0 and 15.
    """
    if isinstance(digits, bool) or not isinstance(digits, int | np.integer) or not 0 <= digits <= DBL_DIG:
        raise ValueError(f"digits must be an integer between 0 and {DBL_DIG}, got {digits!r}")
    x = np.asarray(x, dtype=np.float64)
    if digits == 0:
        return np.rint(x) + 0.0  # R's nearbyint: half to even
    shape, x = x.shape, x.reshape(-1)
    pow10 = float(10**digits)  # exact, as R_pow_di(10., digits)
    # NaN, inf and 0 need no case of their own: NaN stays NaN, inf gives NaN distances and so xd = inf.
    with np.errstate(invalid="ignore"):
        ax = np.abs(x)
        c10 = ax * pow10
        i10 = np.floor(c10)
        np.ceil(c10, out=c10)
        du = c10 / pow10  # xu
        du -= ax
        dd = i10 / pow10  # xd
        np.subtract(ax, dd, out=dd)
        up = du < dd
        tie = np.flatnonzero(du == dd)
        if tie.size:
            up[tie] = np.fmod(i10[tie], 2.0) == 1  # an exact tie: the even last digit
        # xu is (i10 + 1) / pow10 unless x10 is whole, where xu = xd: choosing by adding to i10 gives the
        # same doubles as choosing between xu and xd, without a branchy np.where.
        up &= c10 > i10
        out = np.add(i10, up, out=i10)
        out /= pow10
        np.copysign(out, x, out=out)
        unchanged = ax >= _no_rounding_from(digits)
        if unchanged.any():
            out[unchanged] = x[unchanged]
    out += 0.0  # -0.0 + 0.0 is +0.0
    return out.reshape(shape)


@functools.cache
def _no_rounding_from(digits: int) -> float:
    """The least power of two from which R returns x unchanged: fround's test
    `M_LOG10_2 * (0.5 + logb(x)) + digits > DBL_DIG`, evaluated as R evaluates it, holds exactly
    when logb(x) >= e, that is x >= 2^e."""
    e = math.floor((DBL_DIG - digits) / M_LOG10_2 - 0.5) - 2
    while not M_LOG10_2 * (0.5 + e) + digits > DBL_DIG:
        e += 1
    return 2.0**e
