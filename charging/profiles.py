"""Charging profiles as a charger applies them: which limit holds at a given time.

Used by the simulated chargers (they obey the profiles they are sent and answer
GetCompositeSchedule from them) and by the portal's check of a composite schedule
against the profile it sent. Plain Python, no I/O.

The rules (OCPP 1.6 §3.13 and 2.0.1 K, simplified where noted):

- A profile is in effect from its ``start_schedule`` (Absolute; Relative starts with the
  transaction, Recurring is read as Absolute) and its ``valid_from`` until ``valid_to``
  and the end of its ``duration``; before its first period's start it does not limit.
- Per purpose, the profile of the highest stack level in effect prevails. A TxProfile
  (for the running transaction) overrides a TxDefaultProfile; a TxDefaultProfile on the
  outlet overrides one on the whole charger (EVSE 0). The charger's maximum profile caps
  the result (here per outlet, not shared among them).
- A limit in A is per phase: kW = A × `VOLTS` × phases (default `PHASES`) / 1000.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

VOLTS = 230.0
PHASES = 3

TX = "tx"
TX_DEFAULT = "tx_default"
MAX = "max"
PURPOSES = {
    "TxProfile": TX,
    "TxDefaultProfile": TX_DEFAULT,
    "ChargePointMaxProfile": MAX,
    "ChargingStationMaxProfile": MAX,
}


def to_kw(limit: float, unit: str, phases: int | None = None) -> float:
    """A schedule's limit in kW: W / 1000, or A per phase × 230 V × phases."""
    if unit == "A":
        return float(limit) * VOLTS * (phases or PHASES) / 1000
    return float(limit) / 1000


def from_kw(kw: float, unit: str, phases: int = PHASES) -> float:
    """kW as a schedule's limit in ``unit`` (W, or A per phase), to 0.1."""
    if unit == "A":
        return round(kw * 1000 / (VOLTS * phases), 1)
    return round(kw * 1000, 1)


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(frozen=True)
class Period:
    start_s: int
    kw: float


@dataclass(frozen=True)
class Profile:
    """One installed charging profile, its limits in kW."""

    id: int
    stack_level: int
    purpose: str  # TX, TX_DEFAULT or MAX
    evse_id: int  # 0: the whole charger
    periods: tuple[Period, ...]
    start: datetime | None = None  # None: relative to the transaction's start
    duration_s: int | None = None
    transaction_id: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    def begins(self, tx_start: datetime | None) -> datetime | None:
        return self.start if self.start is not None else tx_start

    def limit_kw(self, at: datetime, tx_start: datetime | None = None) -> float | None:
        """The profile's limit at ``at``, or None when it is not in effect then."""
        if (self.valid_from and at < self.valid_from) or (self.valid_to and at >= self.valid_to):
            return None
        begins = self.begins(tx_start)
        if begins is None or not self.periods:
            return None
        offset = (at - begins).total_seconds()
        if offset < self.periods[0].start_s:
            return None
        if self.duration_s is not None and offset >= self.duration_s:
            return None
        limit = self.periods[0].kw
        for period in self.periods:
            if period.start_s <= offset:
                limit = period.kw
        return limit

    def edges(self, tx_start: datetime | None = None) -> list[datetime]:
        """The instants its limit may change."""
        begins = self.begins(tx_start)
        found = [t for t in (self.valid_from, self.valid_to) if t is not None]
        if begins is not None:
            found += [begins + timedelta(seconds=p.start_s) for p in self.periods]
            if self.duration_s is not None:
                found.append(begins + timedelta(seconds=self.duration_s))
        return found


def _schedule_periods(schedule: dict[str, Any]) -> tuple[Period, ...]:
    unit = schedule.get("charging_rate_unit", "W")
    periods = sorted(
        schedule.get("charging_schedule_period") or [], key=lambda p: p["start_period"]
    )
    return tuple(
        Period(int(p["start_period"]), to_kw(p["limit"], unit, p.get("number_phases")))
        for p in periods
    )


def _profile(evse_id: int, profile: dict[str, Any], schedule: dict[str, Any]) -> Profile:
    relative = profile.get("charging_profile_kind") == "Relative"
    transaction_id = profile.get("transaction_id")
    return Profile(
        id=int(profile.get("charging_profile_id", profile.get("id", 0))),
        stack_level=int(profile.get("stack_level", 0)),
        purpose=PURPOSES.get(profile.get("charging_profile_purpose", ""), TX_DEFAULT),
        evse_id=int(evse_id),
        periods=_schedule_periods(schedule),
        start=None if relative else parse_time(schedule.get("start_schedule")),
        duration_s=schedule.get("duration"),
        transaction_id=str(transaction_id) if transaction_id is not None else None,
        valid_from=parse_time(profile.get("valid_from")),
        valid_to=parse_time(profile.get("valid_to")),
    )


def profile_from_16(connector_id: int, cs_charging_profiles: dict[str, Any]) -> Profile:
    """A 1.6 SetChargingProfile's profile (snake_case, as the `ocpp` library passes it)."""
    return _profile(connector_id, cs_charging_profiles, cs_charging_profiles["charging_schedule"])


def profile_from_201(evse_id: int, charging_profile: dict[str, Any]) -> Profile:
    """A 2.0.1 SetChargingProfile's profile (its first schedule)."""
    return _profile(evse_id, charging_profile, charging_profile["charging_schedule"][0])


def _prevailing(
    profiles: Iterable[Profile], at: datetime, tx_start: datetime | None
) -> float | None:
    """The limit of the highest stack level in effect among ``profiles``."""
    best: tuple[int, float] | None = None
    for p in profiles:
        limit = p.limit_kw(at, tx_start)
        if limit is not None and (best is None or p.stack_level > best[0]):
            best = (p.stack_level, limit)
    return best[1] if best else None


def limit_kw(
    profiles: Sequence[Profile],
    evse_id: int,
    at: datetime,
    transaction_id: str | None = None,
    tx_start: datetime | None = None,
) -> float | None:
    """The composite limit on ``evse_id`` at ``at``, or None when no profile limits it.
    ``transaction_id``: the transaction running there (TxProfiles apply only to it)."""
    here = [p for p in profiles if p.evse_id in (0, evse_id)]
    limit = None
    if transaction_id is not None:
        limit = _prevailing(
            (p for p in here if p.purpose == TX and p.transaction_id in (None, transaction_id)),
            at,
            tx_start,
        )
    if limit is None:
        defaults = [p for p in here if p.purpose == TX_DEFAULT]
        limit = _prevailing((p for p in defaults if p.evse_id == evse_id), at, tx_start)
        if limit is None:
            limit = _prevailing((p for p in defaults if p.evse_id == 0), at, tx_start)
    cap = _prevailing((p for p in here if p.purpose == MAX), at, tx_start)
    if cap is not None:
        limit = cap if limit is None else min(limit, cap)
    return limit


def composite_kw(
    profiles: Sequence[Profile],
    evse_id: int,
    start: datetime,
    duration_s: int,
    default_kw: float,
    transaction_id: str | None = None,
    tx_start: datetime | None = None,
) -> list[Period]:
    """The composite schedule from ``start`` for ``duration_s`` seconds: one period per
    change of limit; ``default_kw`` where no profile limits (the outlet's rating)."""
    end = start + timedelta(seconds=duration_s)
    edges = {start}
    for p in profiles:
        edges.update(t for t in p.edges(tx_start) if start < t < end)
    periods: list[Period] = []
    for at in sorted(edges):
        kw = limit_kw(profiles, evse_id, at, transaction_id, tx_start)
        kw = default_kw if kw is None else min(kw, default_kw)
        if not periods or abs(periods[-1].kw - kw) > 1e-9:
            periods.append(Period(round((at - start).total_seconds()), kw))
    return periods


def kw_at(periods: Sequence[Period], offset_s: float) -> float | None:
    """The limit of a schedule's periods at ``offset_s`` from its start (None before it)."""
    limit = None
    for period in periods:
        if period.start_s <= offset_s:
            limit = period.kw
    return limit


def largest_difference(
    sent: Sequence[Period],
    sent_start: datetime,
    answered: Sequence[Period],
    answered_start: datetime,
    duration_s: int,
) -> float:
    """The largest gap in kW between two schedules over the answered one's span (where
    the sent one has begun)."""
    shift = (answered_start - sent_start).total_seconds()
    offsets = {float(p.start_s) for p in answered}
    offsets.update(p.start_s - shift for p in sent if 0 < p.start_s - shift < duration_s)
    gap = 0.0
    for offset in sorted(offsets):
        want = kw_at(sent, offset + shift)
        got = kw_at(answered, offset)
        if want is None or got is None:
            continue
        gap = max(gap, abs(want - got))
    return gap
