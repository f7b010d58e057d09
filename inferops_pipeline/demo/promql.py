"""What Prometheus 2.x answers for the demo's series: the *_over_time, increase and histogram maths, in Python.

The demo writes raw series (OpenMetrics, for promtool) and the window statistics a live query
returns for them (the metrics snapshot). Computing the statistics with Prometheus' own rules
(closed range [t-range, t], counter extrapolation, linear quantiles, bucket interpolation) is what
makes the live path and the snapshot path agree on the same fleet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]  # (timestamp in seconds, value)
LOOKBACK_S = 300.0


def in_range(points: Sequence[Point], start: float, end: float) -> list[Point]:
    """Prometheus 2.x range selectors include both ends."""
    return [p for p in points if start <= p[0] <= end]


def mean(values: Sequence[float]) -> float:
    # avg_over_time's incremental mean (Prometheus 2.42), so results agree to the last bits.
    result = 0.0
    for count, v in enumerate(values, start=1):
        result += v / count - result / count
    return result


def quantile(q: float, values: Sequence[float]) -> float:
    """quantile_over_time: linear interpolation at rank q·(n−1)."""
    ordered = sorted(values)
    n = len(ordered)
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def over_time(stat: str, values: Sequence[float]) -> float:
    if stat == "mean":
        return mean(values)
    if stat == "max":
        return max(values)
    if stat == "min":
        return min(values)
    if stat == "last":
        return values[-1]
    if stat.startswith("p"):
        return quantile(float(f"0.{stat[1:]}"), values)
    raise ValueError(f"unknown stat {stat!r}")


def extrapolated_increase(points: Sequence[Point], start: float, end: float, *, rate: bool = False) -> float | None:
    """increase()/rate() of a counter over [start, end] with Prometheus' extrapolation rules."""
    window = in_range(points, start, end)
    if len(window) < 2:
        return None
    result = window[-1][1] - window[0][1]
    previous = window[0][1]
    for _, value in window[1:]:
        if value < previous:
            result += previous  # counter reset
        previous = value
    to_start = window[0][0] - start
    to_end = end - window[-1][0]
    sampled = window[-1][0] - window[0][0]
    average = sampled / (len(window) - 1)
    if result > 0 and window[0][1] >= 0:
        to_zero = sampled * (window[0][1] / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    factor = interval / sampled
    if rate:
        factor /= end - start
    return result * factor


def hours_with_data(points: Sequence[Point], *, start: float, end: float, ceiling: int) -> float:
    """count_over_time(x[window:1h]): hour marks in [start, end] with a sample in the 5 min lookback."""
    first = math.ceil(start / 3600) * 3600
    marks = 0
    mark = first
    times = [p[0] for p in points]
    while mark <= end:
        if any(mark - LOOKBACK_S <= t <= mark for t in times):
            marks += 1
        mark += 3600
    return float(min(marks, ceiling))


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus' bucketQuantile over (upper bound, cumulative count); None where it answers NaN."""
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        return None
    counts = []
    highest = 0.0
    for _, count in ordered:
        highest = max(highest, count)  # ensureMonotonic
        counts.append(highest)
    if len(ordered) < 2 or counts[-1] == 0:
        return None
    rank = q * counts[-1]
    b = next(i for i in range(len(ordered) - 1 + 1) if i == len(ordered) - 1 or counts[i] >= rank)
    if b == len(ordered) - 1:
        return ordered[-2][0]
    if b == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    bucket_start, bucket_end, count = 0.0, ordered[b][0], counts[b]
    if b > 0:
        bucket_start = ordered[b - 1][0]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return bucket_start + (bucket_end - bucket_start) * (rank / count)
