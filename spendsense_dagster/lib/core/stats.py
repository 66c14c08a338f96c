"""Summary statistics shared by asset metadata and the evaluation report (one definition each)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 <= q <= 1) by linear interpolation between closest ranks.

    The same definition as DuckDB's quantile_cont and numpy's default; None for no values.
    """
    if not 0 <= q <= 1:
        raise ValueError(f"q must be between 0 and 1, got {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def p95(values: Sequence[float]) -> float | None:
    """The 95th percentile of latencies (see `percentile`)."""
    return percentile(values, 0.95)
