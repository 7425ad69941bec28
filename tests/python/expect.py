"""Expected statistics, computed here independently of the server's code.

Populations are lists of (value, count) pairs: a single Value is (v, 1), Values+Counts
give one pair per element. Statistic sets are kept apart (they have no values).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from fractions import Fraction


def utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)


def epoch(t: dt.datetime) -> int:
    return int(t.timestamp())


def floor_to(t: float, step: int) -> int:
    return int(t // step) * step


@dataclass
class StatSet:
    sample_count: float
    total: float
    minimum: float
    maximum: float


@dataclass
class Slot:
    """Everything put into one aggregation period."""

    values: list[tuple[float, float]] = field(default_factory=list)
    sets: list[StatSet] = field(default_factory=list)

    def add_value(self, v: float, count: float = 1.0) -> None:
        self.values.append((v, count))

    def add_set(self, s: StatSet) -> None:
        # A statistic set whose Min == Max is SampleCount copies of one value.
        self.sets.append(s)

    # -- the five statistics ------------------------------------------------------

    @property
    def sample_count(self) -> float:
        return sum(c for _, c in self.values) + sum(s.sample_count for s in self.sets)

    @property
    def total(self) -> float:
        return math.fsum([v * c for v, c in self.values] + [s.total for s in self.sets])

    @property
    def minimum(self) -> float:
        return min([v for v, _ in self.values] + [s.minimum for s in self.sets])

    @property
    def maximum(self) -> float:
        return max([v for v, _ in self.values] + [s.maximum for s in self.sets])

    @property
    def average(self) -> float:
        return self.total / self.sample_count

    def stats(self) -> dict[str, float]:
        return {
            "SampleCount": self.sample_count,
            "Sum": self.total,
            "Minimum": self.minimum,
            "Maximum": self.maximum,
            "Average": self.average,
        }

    # -- percentiles --------------------------------------------------------------

    def percentiles_available(self) -> bool:
        return all(s.minimum == s.maximum for s in self.sets)

    def population(self) -> list[tuple[float, float]]:
        pop = list(self.values)
        pop += [(s.minimum, s.sample_count) for s in self.sets if s.minimum == s.maximum]
        return pop

    def percentile(self, p: str | float) -> float | None:
        if not self.percentiles_available():
            return None
        return weighted_nearest_rank(self.population(), p)


def weighted_nearest_rank(pop: list[tuple[float, float]], p: str | float) -> float:
    """Smallest v such that (count of values <= v) >= p/100 * total; p0 is the minimum.

    Exact rational arithmetic, so the boundary case count == p/100 * total is decided
    correctly rather than by floating-point luck.
    """
    if isinstance(p, str):
        p = p.lstrip("p")
    frac = Fraction(str(p)) / 100
    ordered = sorted(pop)
    total = sum(Fraction(c) for _, c in ordered)
    if frac == 0:
        return ordered[0][0]
    target = frac * total
    cum = Fraction(0)
    for v, c in ordered:
        cum += Fraction(c)
        if cum >= target:
            return v
    return ordered[-1][0]


def assert_stats(dp: dict, slot: Slot, rel: float = 1e-9) -> None:
    """Compare a GetMetricStatistics datapoint with the expected slot, for the stats it carries."""
    exp = slot.stats()
    seen = 0
    for name, want in exp.items():
        if name in dp:
            seen += 1
            got = dp[name]
            assert math.isclose(got, want, rel_tol=rel, abs_tol=1e-9), (
                f"{name}: server {got!r}, expected {want!r}"
            )
    assert seen, f"datapoint carries no statistic: {dp}"
