"""urllib3 ``Retry`` bounded by the caller's deadline (used by :mod:`pipelines.ingestion.portal`)."""

from __future__ import annotations

from urllib3.util.retry import Retry


class DeadlineRetry(Retry):
    """urllib3 Retry that also stops at the caller's deadline and never sleeps past it."""

    def __init__(self, *args, remaining=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.remaining = remaining  # callable -> seconds left, or None

    def new(self, **kw) -> DeadlineRetry:
        retry = super().new(**kw)
        retry.remaining = self.remaining
        return retry

    def _left(self) -> float:
        return float("inf") if self.remaining is None else self.remaining()

    def is_exhausted(self) -> bool:
        return self._left() <= 0 or super().is_exhausted()

    def get_backoff_time(self) -> float:
        return max(0.0, min(super().get_backoff_time(), self._left()))

    def parse_retry_after(self, retry_after: str) -> float:
        # Accept fractional seconds too, which urllib3 would reject as a malformed header.
        try:
            seconds = max(0.0, float(retry_after))
        except ValueError:
            seconds = super().parse_retry_after(retry_after)
        return min(seconds, max(0.0, self._left()))
