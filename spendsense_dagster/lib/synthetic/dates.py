"""The generated history as day offsets (0 = first day, days - 1 = the as-of date), and vectorised
expansion of cadences (monthly on a fixed day, every N days, irregular gaps) into those offsets.

Each expansion returns `(row, offset)`: `row` indexes the input arrays (one entry per event), so the
caller carries its other per-stream attributes along with `array[row]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

HISTORY_DAYS = 180
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class HistoryCalendar:
    as_of: date
    days: int = HISTORY_DAYS

    @property
    def start(self) -> date:
        return self.as_of - timedelta(days=self.days - 1)

    def offset(self, day: date) -> int:
        return (day - self.start).days

    def epoch_days(self, offsets: np.ndarray) -> np.ndarray:
        """Offsets as days since 1970-01-01 (Arrow's date32)."""
        return (offsets + (self.start.toordinal() - _EPOCH_ORDINAL)).astype(np.int32)

    def _month_starts(self) -> list[date]:
        month = date(self.start.year, self.start.month, 1)
        months = []
        while month <= self.as_of:
            months.append(month)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        return months

    def reliable_days(self) -> np.ndarray:
        """Days of month (1-28) seen at least once in the last 30 days and three times in the last 90.

        A monthly charge on such a day lands in the 30-day window and has the three occurrences that
        recurring-stream detection needs in that window's 90-day look-back, whatever the as-of date
        (a 30-day window can miss a day of month after a 31-day month).
        """
        last_90 = [self.as_of - timedelta(days=back) for back in range(90)]
        seen_30 = {d.day for d in last_90[:30]}
        counts_90 = np.bincount([d.day for d in last_90], minlength=32)
        return np.array([d for d in range(1, 29) if d in seen_30 and counts_90[d] >= 3], dtype=np.int64)

    def monthly(self, day_of_month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every date in the history falling on `day_of_month` (1-28), month by month, oldest first."""
        rows, offsets = [], []
        for month in self._month_starts():
            offset = self.offset(month) + day_of_month - 1
            inside = (offset >= 0) & (offset < self.days)
            rows.append(np.flatnonzero(inside))
            offsets.append(offset[inside])
        return np.concatenate(rows), np.concatenate(offsets)

    def backwards(self, first_back: np.ndarray, gaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dates `first_back` days before the as-of date, then earlier by each gap (a row of `gaps`)."""
        back = first_back[:, None] + np.concatenate(
            [np.zeros((len(first_back), 1), dtype=np.int64), np.cumsum(gaps[:, :-1], axis=1)], axis=1
        )
        offset = self.days - 1 - back
        rows, cols = np.nonzero(offset >= 0)
        return rows, offset[rows, cols]

    def every(self, period: int, first_back: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dates every `period` days, the latest `first_back` days before the as-of date."""
        gaps = np.full((len(first_back), self.days // period + 1), period, dtype=np.int64)
        return self.backwards(first_back, gaps)


def timestamps_before(as_of: date, days_before: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Midnight of `as_of` minus whole days, plus a random time of day, as datetime64[s]."""
    seconds = rng.integers(0, 86_400, len(days_before))
    return np.datetime64(as_of, "s") - days_before.astype("timedelta64[D]") + seconds.astype("timedelta64[s]")
