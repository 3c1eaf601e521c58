"""When to read an async query's status next: geometric waits, sharpened by the query's progress.

Every status read counts against PostHog's rate limits, and every second between the query's end
and the next read is lag. :class:`PollSchedule` balances the two:

- **Geometric fallback.** Waits start at ``poll_interval`` and grow x1.5 per read, capped at
  ``poll_max_interval`` (0.2, 0.3, 0.45, ... 5 s with the defaults): the lag stays within about half
  the query's elapsed time, and an hour-long query costs one read per ``poll_max_interval``.
- **Prediction from progress.** PostHog's ``query_progress`` says ``rows_read`` of
  ``estimated_rows_total``. Once two reads show the share growing, its rate (measured on the
  client's own clock, so the server's clock and its integer ``time_elapsed`` do not matter) predicts
  when the query ends, and the next read is timed just after that (plus a small margin). A far
  prediction is approached in steps of at most :data:`EXTRAPOLATION` x the time the rate was measured
  over, so an early, noisy rate is refined before it is trusted for long; no step is shorter than
  the geometric wait unless the predicted end is nearer, and none is longer than
  ``poll_max_interval``.
- **Overdue.** A query that has read all its rows but is not complete (ClickHouse still sorting or
  sending, or a total that was underestimated) is read again after short waits that double
  (:data:`OVERDUE_FIRST`, x2, ...), so a wrong prediction costs a few requests, never a loop.

Without progress (``show_progress`` unsupported, a queued query, a share that does not move) the
schedule is the geometric one exactly. Deterministic: it is given the times, it reads no clock.

Example::

    schedule = PollSchedule(poll_interval=0.2, poll_max_interval=5.0)
    wait = schedule.first_wait()          # 0.2
    wait = schedule.next_wait(now, status)  # after each status read
"""

from __future__ import annotations

from dataclasses import dataclass

from endpoints_dagster.client.models import QueryProgress, QueryStatus

__all__ = ["EXTRAPOLATION", "GROWTH", "OVERDUE_FIRST", "PollSchedule", "progress_share"]

GROWTH = 1.5
#: A predicted end is approached in steps of at most this many times the span the rate was measured over.
EXTRAPOLATION = 2.0
#: The first wait after a read that found the query due but not complete (doubles each time).
OVERDUE_FIRST = 0.05
#: Added to a predicted end: a little late costs one request less than a little early.
MARGIN_MIN = 0.02
MARGIN_SHARE = 0.02


def progress_share(progress: QueryProgress | None) -> float | None:
    """``rows_read / estimated_rows_total`` in [0, 1], or ``None`` when the progress cannot say."""
    if progress is None or not progress.estimated_rows_total or progress.rows_read is None:
        return None
    if progress.estimated_rows_total <= 0 or progress.rows_read < 0:
        return None
    return min(1.0, progress.rows_read / progress.estimated_rows_total)


@dataclass
class _Sample:
    at: float
    share: float


class PollSchedule:
    """The waits between status reads of one async query (see the module docstring).

    Args:
        poll_interval: the first wait, and the floor of the geometric ones.
        poll_max_interval: the longest wait, predicted or not.
    """

    def __init__(self, poll_interval: float, poll_max_interval: float) -> None:
        self.poll_interval = poll_interval
        self.poll_max_interval = max(poll_interval, poll_max_interval)
        self._geometric = poll_interval
        self._anchor: _Sample | None = None  # first read with progress
        self._overdue = 0
        self.predicted_end: float | None = None
        """The last predicted completion time, on the caller's clock (for logs and tests)."""

    def first_wait(self) -> float:
        """The wait before the first status read."""
        return self.poll_interval

    def next_wait(self, now: float, status: QueryStatus | None) -> float:
        """The wait after a status read made at ``now`` that found the query still running."""
        geometric = self._geometric = min(self._geometric * GROWTH, self.poll_max_interval)
        share = progress_share(status.query_progress if status is not None else None)
        remaining = self._remaining(now, share)
        if remaining is None:
            self._overdue = 0
            return geometric
        if remaining <= 0:  # all rows read, yet not complete: soon, but not certainly
            wait = OVERDUE_FIRST * 2.0**self._overdue
            self._overdue += 1
            return min(wait, geometric, self.poll_max_interval)
        self._overdue = 0
        assert self._anchor is not None
        target = remaining + max(MARGIN_MIN, MARGIN_SHARE * (now + remaining - self._anchor.at))
        step = EXTRAPOLATION * (now - self._anchor.at)
        # Near: go straight to the predicted end. Far: a step to refine the rate, never shorter than
        # the geometric wait (prediction must not cost requests) nor past the predicted end.
        wait = target if remaining <= step else min(target, max(step, geometric))
        return max(min(wait, self.poll_max_interval), 0.0)

    def _remaining(self, now: float, share: float | None) -> float | None:
        """Seconds until the predicted end, from the anchor read to this one; None if unknown."""
        if share is None or share <= 0:
            return None
        if self._anchor is None:
            self._anchor = _Sample(now, share)
            return None
        if share >= 1.0:
            self.predicted_end = now
            return 0.0
        span, gained = now - self._anchor.at, share - self._anchor.share
        if gained <= 0 or span <= 0:
            if share < self._anchor.share:  # the estimate of the total grew: measure afresh
                self._anchor = _Sample(now, share)
            return None
        remaining = (1.0 - share) * span / gained
        self.predicted_end = now + remaining
        return remaining
