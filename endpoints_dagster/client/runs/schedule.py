"""When to read an async query's status next: waits that follow the query's age, sharpened by its progress.

Every status read counts against PostHog's rate limits, and every second between the query's end
and the next read is lag. :class:`PollSchedule` balances the two:

- **Age-proportional fallback.** After a read, the next one comes :data:`WAIT_SHARE` (22%) of the
  query's age later, never sooner than ``poll_interval`` nor later than ``poll_max_interval``. A
  query that ends after a read had run at least as long as its age at that read, so it is noticed
  no later than :data:`LAG_SHARE` (a quarter) of its duration after it ends, the status request's
  own time included (or about one ``poll_interval``, for a query under a second). With the defaults
  the waits are 0.2 s until the query is 0.9 s old, then grow x1.22 per read (:data:`GROWTH`): an
  8 s query costs 16 reads, a 2 s query is noticed 0.22 s after it ends (x1.5 growth, the earlier
  schedule, noticed it 0.65 s late), and an hour-long one costs one read per ``poll_max_interval``.
- **Prediction from progress.** PostHog's ``query_progress`` says ``rows_read`` of
  ``estimated_rows_total``. Once two reads show the share growing, its rate (measured on the
  client's own clock, so the server's clock and its integer ``time_elapsed`` do not matter) predicts
  when the query ends, and the next read is timed just after that (plus a small margin). A far
  prediction is approached in steps of at most :data:`EXTRAPOLATION` x the time the rate was measured
  over, so an early, noisy rate is refined before it is trusted for long; no step is shorter than
  the fallback wait unless the predicted end is nearer, and none is longer than
  ``poll_max_interval``.
- **Overdue.** A query that has read all its rows but is not complete (ClickHouse still sorting or
  sending, or a total that was underestimated) is read again after short waits that double
  (:data:`OVERDUE_FIRST`, x2, ...), so a wrong prediction costs a few requests, never a loop.

Without progress (``show_progress`` unsupported, a queued query, an older PostHog, a share that does
not move) the schedule is the age-proportional one exactly. Deterministic: it is given the times,
it reads no clock. The query's age counts from ``started_at`` (when the run was submitted, on the
caller's clock), or, when that is not given, from one ``poll_interval`` before the first read.

Example::

    schedule = PollSchedule(poll_interval=0.2, poll_max_interval=5.0, started_at=clock())
    wait = schedule.first_wait()            # 0.2
    wait = schedule.next_wait(now, status)  # after each status read
"""

from __future__ import annotations

from dataclasses import dataclass

from endpoints_dagster.client.models import QueryProgress, QueryStatus

__all__ = [
    "EXTRAPOLATION",
    "GROWTH",
    "LAG_SHARE",
    "OVERDUE_FIRST",
    "WAIT_SHARE",
    "PollSchedule",
    "progress_share",
]

#: Without progress, a query is noticed no later than this share of its duration after it ends.
LAG_SHARE = 0.25
#: The wait after a read, as a share of the query's age then: a little under LAG_SHARE, so the status
#: request's own round trip (and a start the client saw late) fit in the promise too.
WAIT_SHARE = 0.22
#: The growth of the waits per read (once past ``poll_interval``).
GROWTH = 1.0 + WAIT_SHARE
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
        poll_interval: the first wait, and the floor of the fallback ones.
        poll_max_interval: the longest wait, predicted or not.
        started_at: when the query was submitted, on the clock of ``next_wait``'s ``now``.
    """

    def __init__(
        self, poll_interval: float, poll_max_interval: float, started_at: float | None = None
    ) -> None:
        self.poll_interval = poll_interval
        self.poll_max_interval = max(poll_interval, poll_max_interval)
        self._started_at = started_at
        self._anchor: _Sample | None = None  # first read with progress
        self._overdue = 0
        self.predicted_end: float | None = None
        """The last predicted completion time, on the caller's clock (for logs and tests)."""

    def first_wait(self) -> float:
        """The wait before the first status read."""
        return self.poll_interval

    def fallback_wait(self, now: float) -> float:
        """The wait without progress: :data:`WAIT_SHARE` of the query's age at ``now``, within bounds."""
        if self._started_at is None:
            # The first read came one first wait after the submission at the earliest: a start no
            # earlier than the real one makes the age, and so the wait, never too long.
            self._started_at = now - self.poll_interval
        age = max(now - self._started_at, 0.0)
        return min(max(WAIT_SHARE * age, self.poll_interval), self.poll_max_interval)

    def next_wait(self, now: float, status: QueryStatus | None) -> float:
        """The wait after a status read made at ``now`` that found the query still running."""
        fallback = self.fallback_wait(now)
        share = progress_share(status.query_progress if status is not None else None)
        remaining = self._remaining(now, share)
        if remaining is None:
            self._overdue = 0
            return fallback
        if remaining <= 0:  # all rows read, yet not complete: soon, but not certainly
            wait = OVERDUE_FIRST * 2.0**self._overdue
            self._overdue += 1
            return min(wait, fallback, self.poll_max_interval)
        self._overdue = 0
        assert self._anchor is not None
        target = remaining + max(MARGIN_MIN, MARGIN_SHARE * (now + remaining - self._anchor.at))
        step = EXTRAPOLATION * (now - self._anchor.at)
        # Near: go straight to the predicted end. Far: a step to refine the rate, never shorter than
        # the fallback wait (prediction must not cost requests) nor past the predicted end.
        wait = target if remaining <= step else min(target, max(step, fallback))
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
