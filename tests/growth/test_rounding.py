"""R's round(x, 2), as WHO anthro applies it to every z-score: fixed cases from R 4.2.2, and R itself
when it is installed."""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest

from pipelines.growth.rounding import r_round

# Each expected value is what R 4.2.2 prints for round(x, 2).
R_CASES = [
    (2.675, 2.67),  # 2.67499999999999982: np.round says 2.68
    (-2.005, -2.0),  # -2.00499999999999989
    (0.125, 0.12),  # an exact tie: the even candidate
    (-0.125, -0.12),
    (0.135, 0.14),
    (-0.135, -0.14),
    (4.595, 4.6),  # Python's round says 4.59
    (514.325, 514.32),  # Python's round says 514.33
    (6.005, 6.0),
    (-6.005, -6.0),
    (5.005, 5.0),
    (-2.004999, -2.0),
    (2.0**42 + 2.0**-10, 2.0**42),  # still rounded
    (2.0**43 + 2.0**-9, 2.0**43 + 2.0**-9),  # beyond 15 significant digits: unchanged
    (1e300, 1e300),
    (math.inf, math.inf),
    (-math.inf, -math.inf),
    (0.0, 0.0),
]


@pytest.mark.parametrize(("x", "expected"), R_CASES)
def test_r_round_matches_r(x, expected):
    assert float(r_round(x)) == expected
    assert r_round(np.array([x, -x])).tolist() == [expected, -expected]


def test_r_round_passes_nan_and_drops_the_sign_of_zero():
    got = r_round([np.nan, -0.001, -0.0])
    assert np.isnan(got[0])
    assert got[1:].tolist() == [0.0, 0.0] and not np.signbit(got[1:]).any()


def test_r_round_keeps_the_shape_and_other_digits():
    assert r_round(np.full((2, 3), 1.005)).shape == (2, 3)
    assert r_round([0.5, 1.5, 2.5, -2.5], 0).tolist() == [0.0, 2.0, 2.0, -2.0]
    assert r_round([0.45, 0.15], 1).tolist() == [0.4, 0.1]  # R 4.2.2


@pytest.mark.parametrize("digits", [-1, 16, 2.0, True])
def test_r_round_refuses_digits_it_does_not_reproduce(digits):
    with pytest.raises(ValueError, match="digits"):
        r_round(1.0, digits)


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_r_round_equals_r_on_many_values(tmp_path):
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            np.arange(-20_000, 20_001) / 1000,  # every value with 3 decimals in [-20, 20]
            rng.integers(-(10**6), 10**6, 20_000) / 1000,
            rng.normal(0, 3, 20_000),
            rng.uniform(-1e13, 1e13, 2_000),
        ]
    )
    src, out = tmp_path / "x.txt", tmp_path / "r.txt"
    np.savetxt(src, x, fmt="%.17g")
    script = f"x <- scan('{src}', quiet = TRUE); write(sprintf('%.17g', round(x, 2)), '{out}')"
    subprocess.run(["Rscript", "-e", script], check=True, timeout=120)
    np.testing.assert_array_equal(r_round(x), np.loadtxt(out))
