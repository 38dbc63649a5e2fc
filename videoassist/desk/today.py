"""Today's figures of each queue, as a supervisor's wallboard shows them.

"Today" is a business day: it starts at ``DeskConfig.day_starts_at`` local time in
``DeskConfig.time_zone`` (a night shift may want 06:00), and the desk learns that a new one has
begun from the time of the events it handles (``Day.roll``), never from a clock. A new day
starts every queue's figures from zero.

Service level, the way contact centers configure it per queue (``QueueConfig``):

* an answer counts as *in service level* when the customer waited at most ``service_level``
  seconds (the threshold) in that queue;
* a customer who gave up sooner than ``short_abandon`` seconds is a *short abandon*: a misdial or
  a change of mind, left out of the figure altogether;
* the other abandons count against the queue (they are in the denominator) when
  ``abandons_count``, and are left out when not;

so ``SL = answered within threshold / (answered + abandons that count)``, as a percentage, and
None while the denominator is zero. Waits are counted from when the customer entered the queue
(``Ticket.line_since``): an overflow or a move starts the new queue's clock. The threshold and
the short-abandon limit in force when a customer is answered or gives up are the ones that
classify them; a change of configuration applies from then on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from videoassist.desk.config import DeskConfig, QueueConfig, parse_hhmm


def service_level(
    answered_in_level: int, answered: int, abandoned_counted: int, abandons_count: bool
) -> float | None:
    """The service level in percent (see the module docstring), None with nothing to judge."""
    denominator = answered + (abandoned_counted if abandons_count else 0)
    if denominator == 0:
        return None
    return 100.0 * answered_in_level / denominator


def formula(queue: QueueConfig) -> str:
    """The formula a queue's service level follows, in words a supervisor reads on the page."""
    within = f"answered within {queue.service_level:g} s"
    short = f"abandons after less than {queue.short_abandon:g} s are left out"
    if queue.abandons_count:
        return f"{within} ÷ (answered + abandoned); {short}"
    return f"{within} ÷ answered; abandons are left out"


@dataclass(slots=True)
class Figures:
    """One queue's counts since the business day began."""

    offered: int = 0  # customers who joined the queue's line (ghost taps are not customers)
    answered: int = 0
    answered_in_level: int = 0
    abandoned: int = 0  # every abandon, short ones included
    short_abandoned: int = 0
    wait_total: float = 0.0  # of the answered: what ASA averages
    handled: int = 0  # calls ended (a warm transfer's legs are one call)
    handle_total: float = 0.0  # their talk time plus the wrap-up that followed

    def answer(self, wait: float, queue: QueueConfig) -> None:
        self.answered += 1
        self.wait_total += wait
        if wait <= queue.service_level:
            self.answered_in_level += 1

    def abandon(self, wait: float, queue: QueueConfig) -> None:
        self.abandoned += 1
        if wait < queue.short_abandon:
            self.short_abandoned += 1

    def service_level(self, queue: QueueConfig) -> float | None:
        counted = self.abandoned - self.short_abandoned
        return service_level(self.answered_in_level, self.answered, counted, queue.abandons_count)

    @property
    def asa(self) -> float | None:
        return self.wait_total / self.answered if self.answered else None

    @property
    def aht(self) -> float | None:
        return self.handle_total / self.handled if self.handled else None


class Day:
    """Which business day it is, from the events' own times."""

    def __init__(self, config: DeskConfig) -> None:
        self.date: dt.date | None = None  # unknown until the first event
        self.started_at = 0.0
        self.ends_at = float("-inf")
        self._config = config

    def reconfigure(self, config: DeskConfig, at: float) -> None:
        """A new time zone or start time: the current day is re-cut, its figures kept."""
        self._config = config
        if self.date is not None:
            self.date = None
            self.roll(at)

    def roll(self, at: float) -> bool:
        """Move to the day containing ``at`` if that is a later one; True when a day began
        (not for the very first event, which finds the day rather than starting one). An event
        stamped before the current day (a timer that fired late) changes nothing."""
        if at < self.ends_at:
            return False
        first = self.date is None
        date = self.date_of(at)
        if self.date is not None and date <= self.date:
            return False  # before the day's end by the wall clock (a DST day): not yet
        self.date = date
        self.started_at = self.start_of(date)
        self.ends_at = self.start_of(date + dt.timedelta(days=1))
        return not first

    def date_of(self, at: float) -> dt.date:
        """The business day ``at`` belongs to: the local date, shifted by the day's start."""
        h, m = self._starts()
        local = dt.datetime.fromtimestamp(at, ZoneInfo(self._config.time_zone))
        # Wall-clock arithmetic (aware datetimes subtract on the wall clock): 05:59 on a day
        # that starts at 06:00 still belongs to the day before.
        return (local - dt.timedelta(hours=h, minutes=m)).date()

    def start_of(self, date: dt.date) -> float:
        """When ``date`` begins, or a moment before: when the start time falls in a DST gap or
        in an hour that repeats, the earlier reading. ``roll`` asks ``date_of`` past it, so an
        early answer costs a few look-ups and never a wrong day."""
        h, m = self._starts()
        start = dt.datetime.combine(date, dt.time(h, m), ZoneInfo(self._config.time_zone))
        return min(start.timestamp(), start.replace(fold=1).timestamp())

    def _starts(self) -> tuple[int, int]:
        parsed = parse_hhmm(self._config.day_starts_at)
        assert parsed is not None  # DeskConfig.validate refused anything else
        return parsed
