"""Calibrating and sampling the noise of dp mode (pure; OpenDP does the sampling).

One release = one table's cells of one UTC day, after each user's contribution is bounded to
at most ``C`` cells (``max_cells_per_day``) and ``V`` views (``max_views_per_day``). Adding or
removing one user then moves the vector of distinct-user counts by at most sqrt(C) in L2 norm
and the vector of view counts by at most V. Both get discrete Gaussian noise (OpenDP
``make_gaussian``, which samples with a cryptographically secure source), each spending half
of the release's zero-concentrated budget rho; rho is the largest whose (epsilon, delta/2)
conversion by OpenDP stays within the table's share of the daily budget.

The other delta/2 pays for *which* cells appear: a cell that exists only because of one user
has a true user count of 1, and that user owns at most C such cells, so a cell is released only
when its noisy user count reaches ``threshold`` = 1 + sigma * z(1 - delta/(2C)), rounded up,
plus one for the lattice of the discrete distribution: each such cell leaks with probability at
most delta/(2C), all C together at most delta/2.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from statistics import NormalDist

import opendp.prelude as dp

from pipeline.policy.publication import DpTable

# OpenDP ships its mechanisms behind "contrib" (implemented and proved, pending formal vetting);
# make_gaussian and the zCDP -> (epsilon, delta) conversion are among them.
dp.enable_features("contrib")

Noise = Callable[[Sequence[int], float], list[int]]
"""(true counts, standard deviation) -> noisy counts; tests may inject a noiseless one."""

Z_95 = 1.959963984540054
"""Half-width of a 95 % interval in standard errors."""


@dataclasses.dataclass(frozen=True)
class Calibration:
    """The parameters of one table's daily release."""

    epsilon: float
    """What the release spends (OpenDP's conversion; at most the table's share)."""
    delta: float
    rho: float
    sigma_users: float
    sigma_counts: float
    threshold: int
    max_views_per_day: int
    max_cells_per_day: int


def _gaussian(scale: float) -> dp.Measurement:
    domain = dp.vector_domain(dp.atom_domain(T="i64"))
    return dp.m.make_gaussian(domain, dp.l2_distance(T="f64"), scale=scale)


def _epsilon(rho: float, delta: float) -> float:
    """Epsilon of a rho-zCDP release at ``delta``, by OpenDP's conversion."""
    unit = dp.m.make_gaussian(dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float),
                              scale=1.0 / math.sqrt(2.0 * rho))
    profile = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(unit), delta)
    return float(profile.map(1.0)[0])  # type: ignore[no-untyped-call]


def _largest_rho(epsilon: float, delta: float) -> float:
    low, high = 0.0, epsilon  # epsilon(rho) > rho: the answer lies below epsilon
    for _ in range(40):  # epsilon to 2^-40 of its value: far below any rounding that matters
        mid = (low + high) / 2
        if _epsilon(mid, delta) <= epsilon * (1 - 1e-9):  # never over, even by rounding
            low = mid
        else:
            high = mid
    return low


def calibrate(table: DpTable) -> Calibration:
    """Noise scales and threshold for ``table``'s daily release."""
    return _calibrate(table.epsilon, table.delta, table.max_views_per_day,
                      table.max_cells_per_day)


@functools.lru_cache(maxsize=64)
def _calibrate(epsilon: float, delta: float, views: int, cells: int) -> Calibration:
    """Tables with the same parameters share one calibration (about a second of OpenDP)."""
    delta_noise = delta_threshold = delta / 2
    rho = _largest_rho(epsilon, delta_noise)
    sigma_users = math.sqrt(cells) / math.sqrt(rho)  # rho/2 = C / (2 sigma^2)
    sigma_counts = views / math.sqrt(rho)
    # zCDP composes by addition: the two vectors together spend the sum.
    spent_rho = float(_gaussian(sigma_users).map(math.sqrt(cells))  # type: ignore[no-untyped-call]
                      + _gaussian(sigma_counts).map(float(views)))  # type: ignore[no-untyped-call]
    z = NormalDist().inv_cdf(1.0 - delta_threshold / cells)
    threshold = math.ceil(1.0 + sigma_users * z) + 1
    return Calibration(
        epsilon=_epsilon(spent_rho, delta_noise), delta=delta_noise + delta_threshold,
        rho=spent_rho, sigma_users=sigma_users, sigma_counts=sigma_counts, threshold=threshold,
        max_views_per_day=views, max_cells_per_day=cells,
    )


def opendp_noise(values: Sequence[int], sigma: float) -> list[int]:
    """``values`` plus discrete Gaussian noise of standard deviation ``sigma`` (OpenDP)."""
    if not values:
        return []
    return list(_gaussian(sigma)([int(v) for v in values]))
