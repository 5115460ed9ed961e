"""CFE tariffs: the period of any local time (season changes, weekends, holidays) and
the price a depot pays then, from its effective-dated tariffs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest

from charging.tariffs import (
    GDMTH_HOURS,
    MEXICO_CITY,
    DayType,
    Period,
    Season,
    Tariff,
    TariffError,
    TariffKind,
    day_type_of,
    is_holiday,
    period_at,
    rate_at,
    season_of,
    slot_rates,
)

BASE, INTER, PUNTA, UNICA = Period.BASE, Period.INTERMEDIA, Period.PUNTA, Period.UNICA


def gdmth(effective_from: date = date(2025, 5, 1), **prices: float) -> Tariff:
    energy = {BASE: 0.85, INTER: 1.45, PUNTA: 1.62} | {Period(k): v for k, v in prices.items()}
    return Tariff(
        kind=TariffKind.GDMTH,
        effective_from=effective_from,
        energy_mxn_per_kwh=energy,
        capacity_mxn_per_kw=420.0,
        distribution_mxn_per_kw=59.0,
        fixed_mxn_per_month=520.0,
    )


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=MEXICO_CITY)


def periods_of(day: date) -> str:
    """The day's 24 hours as letters: b(ase), i(ntermedia), p(unta)."""
    return "".join(period_at(TariffKind.GDMTH, local(day, h)).value[0] for h in range(24))


# 2025: April 6 is the first Sunday of April, October 26 the last Sunday of October.
@pytest.mark.parametrize(
    ("day", "season"),
    [
        (date(2025, 4, 5), Season.WINTER),  # the Saturday before
        (date(2025, 4, 6), Season.SUMMER),  # the first Sunday of April
        (date(2025, 7, 15), Season.SUMMER),
        (date(2025, 10, 25), Season.SUMMER),  # the Saturday before the last Sunday
        (date(2025, 10, 26), Season.WINTER),  # the last Sunday of October
        (date(2025, 12, 31), Season.WINTER),
        (date(2026, 4, 4), Season.WINTER),
        (date(2026, 4, 5), Season.SUMMER),  # 2026: April 5
        (date(2026, 10, 24), Season.SUMMER),
        (date(2026, 10, 25), Season.WINTER),  # 2026: October 25
        (date(2023, 4, 1), Season.WINTER),  # 2023: April 2 is the first Sunday
        (date(2023, 4, 2), Season.SUMMER),
    ],
)
def test_summer_runs_from_the_first_sunday_of_april_to_the_last_sunday_of_october(
    day: date, season: Season
) -> None:
    assert season_of(day) is season


def test_a_summer_weekday_has_punta_from_20_to_22() -> None:
    # Tuesday 15 July 2025
    assert periods_of(date(2025, 7, 15)) == "bbbbbb" + "i" * 14 + "pp" + "ii"


def test_a_winter_weekday_has_punta_from_18_to_22() -> None:
    # Tuesday 13 January 2026
    assert periods_of(date(2026, 1, 13)) == "bbbbbb" + "i" * 12 + "pppp" + "ii"


def test_saturdays_and_sundays_follow_their_own_hours() -> None:
    assert periods_of(date(2025, 7, 19)) == "b" * 7 + "i" * 17  # summer Saturday
    assert periods_of(date(2025, 7, 20)) == "b" * 19 + "i" * 5  # summer Sunday
    assert periods_of(date(2026, 1, 17)) == "b" * 8 + "i" * 11 + "pp" + "iii"  # winter Saturday
    assert periods_of(date(2026, 1, 18)) == "b" * 18 + "i" * 6  # winter Sunday


def test_the_season_changes_overnight_on_the_sunday() -> None:
    # Saturday 4 April 2026 is a winter Saturday (punta 19-21); Monday 6 April a summer
    # weekday (punta 20-22).
    assert period_at(TariffKind.GDMTH, local(date(2026, 4, 4), 19, 30)) is PUNTA
    assert period_at(TariffKind.GDMTH, local(date(2026, 4, 6), 19, 30)) is INTER
    assert period_at(TariffKind.GDMTH, local(date(2026, 4, 6), 21, 45)) is PUNTA
    # Friday 24 October 2025 is still summer (18:00 intermedia); Monday 27 October winter.
    assert period_at(TariffKind.GDMTH, local(date(2025, 10, 24), 18)) is INTER
    assert period_at(TariffKind.GDMTH, local(date(2025, 10, 27), 18)) is PUNTA


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 1, 1),  # Año Nuevo
        date(2025, 2, 3),  # first Monday of February (Constitution, 5 February)
        date(2025, 3, 17),  # third Monday of March (Benito Juárez, 21 March)
        date(2025, 5, 1),
        date(2025, 9, 16),
        date(2025, 11, 17),  # third Monday of November (Revolution, 20 November)
        date(2025, 12, 25),
        date(2026, 2, 2),
        date(2026, 3, 16),
        date(2026, 11, 16),
        date(2024, 10, 1),  # change of federal government, every six years since 2024
        date(2030, 10, 1),
    ],
)
def test_official_holidays_count_as_sundays(day: date) -> None:
    assert is_holiday(day)
    assert day_type_of(day) is DayType.SUNDAY


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 2, 5),  # the Constitution's date, moved to the Monday
        date(2025, 3, 21),
        date(2025, 11, 20),
        date(2025, 10, 1),  # not a year of the change of government
        date(2024, 12, 1),  # the change of government's date before 2024
        date(2025, 12, 12),  # Guadalupe: a feast, not an LFT day of rest
        date(2025, 4, 17),  # Holy Thursday: not in art. 74
    ],
)
def test_other_days_keep_their_weekday(day: date) -> None:
    assert not is_holiday(day)
    assert day_type_of(day) is not DayType.SUNDAY or day.weekday() == 6


def test_a_holiday_weekday_has_no_punta() -> None:
    # Monday 17 November 2025 (Revolution, winter): a Sunday's hours, punta nowhere.
    assert periods_of(date(2025, 11, 17)) == "b" * 18 + "i" * 6
    # Tuesday 18 November 2025: an ordinary winter weekday.
    assert "pppp" in periods_of(date(2025, 11, 18))


def test_a_holiday_on_a_saturday_counts_as_a_sunday() -> None:
    # 1 January 2022 was a Saturday (winter): no punta at 19:00-21:00.
    assert date(2022, 1, 1).weekday() == 5
    assert periods_of(date(2022, 1, 1)) == "b" * 18 + "i" * 6


def test_every_day_type_covers_24_hours_with_punta_only_where_cfe_puts_it() -> None:
    assert all(len(hours) == 24 for hours in GDMTH_HOURS.values())
    punta_hours = {key: hours.count(PUNTA) for key, hours in GDMTH_HOURS.items()}
    assert punta_hours == {
        (Season.SUMMER, DayType.WEEKDAY): 2,
        (Season.SUMMER, DayType.SATURDAY): 0,
        (Season.SUMMER, DayType.SUNDAY): 0,
        (Season.WINTER, DayType.WEEKDAY): 4,
        (Season.WINTER, DayType.SATURDAY): 2,
        (Season.WINTER, DayType.SUNDAY): 0,
    }


def test_the_period_is_read_in_mexico_city_time() -> None:
    # 02:30 UTC on Wednesday 14 January 2026 is 20:30 on Tuesday the 13th in Mexico City.
    when = datetime(2026, 1, 14, 2, 30, tzinfo=UTC)
    assert period_at(TariffKind.GDMTH, when) is PUNTA
    with pytest.raises(ValueError, match="aware"):
        period_at(TariffKind.GDMTH, datetime(2026, 1, 13, 20, 30))


def test_rate_at_prices_the_period_with_transmission() -> None:
    tariff = Tariff(
        kind=TariffKind.GDMTH,
        effective_from=date(2025, 5, 1),
        energy_mxn_per_kwh={BASE: 0.85, INTER: 1.45, PUNTA: 1.62},
        capacity_mxn_per_kw=420.0,
        distribution_mxn_per_kw=59.0,
        fixed_mxn_per_month=520.0,
        transmission_mxn_per_kwh=0.18,
    )
    rate = rate_at([tariff], local(date(2026, 1, 13), 19))
    assert rate.period is PUNTA
    assert rate.punta
    assert rate.energy_mxn_per_kwh == pytest.approx(1.80)
    assert rate_at([tariff], local(date(2026, 1, 13), 3)).energy_mxn_per_kwh == pytest.approx(1.03)
    assert rate.tariff is tariff


def test_the_tariff_in_effect_on_the_local_date_applies() -> None:
    may = gdmth(date(2025, 5, 1), base=0.80)
    june = gdmth(date(2025, 6, 1), base=0.90)
    history = [june, may]  # any order
    # Saturday 31 May and Sunday 1 June 2025, base hours.
    assert rate_at(history, local(date(2025, 5, 31), 3)).energy_mxn_per_kwh == 0.80
    assert rate_at(history, local(date(2025, 6, 1), 0)).energy_mxn_per_kwh == 0.90
    # 05:30 UTC on 1 June is still 31 May, 23:30 in Mexico City.
    assert rate_at(history, datetime(2025, 6, 1, 5, 30, tzinfo=UTC)).tariff is may
    with pytest.raises(TariffError, match="no tariff in effect on 2025-04-30"):
        rate_at(history, local(date(2025, 4, 30), 12))


def test_gdmto_has_one_price_all_day() -> None:
    tariff = Tariff(
        kind=TariffKind.GDMTO,
        effective_from=date(2025, 1, 1),
        energy_mxn_per_kwh={UNICA: 1.699},
        capacity_mxn_per_kw=373.75,
        distribution_mxn_per_kw=64.12,
        fixed_mxn_per_month=466.83,
    )
    day = slot_rates([tariff], local(date(2025, 1, 14), 0), 96)
    assert set(day.periods) == {UNICA}
    assert (day.energy_mxn_per_kwh == 1.699).all()
    assert not day.punta.any()
    # Its capacity charge is on the month's highest demand: every slot counts.
    assert day.capacity_slots.all()


def test_a_tariff_needs_one_price_per_period_of_its_kind() -> None:
    with pytest.raises(TariffError, match="base, intermedia, punta"):
        Tariff(TariffKind.GDMTH, date(2025, 1, 1), {UNICA: 1.7}, 420.0, 59.0, 520.0)
    with pytest.raises(TariffError, match="unica"):
        Tariff(
            TariffKind.GDMTO,
            date(2025, 1, 1),
            {BASE: 0.9, INTER: 1.4, PUNTA: 1.6},
            420.0,
            59.0,
            520.0,
        )
    with pytest.raises(TariffError, match="not negative"):
        gdmth(punta=-1.0)


def test_slot_rates_give_the_planner_one_price_and_punta_flag_per_slot() -> None:
    tariff = gdmth()
    # From 12:00 on Tuesday 13 January 2026 (winter), 24 hours of 15-minute slots.
    day = slot_rates([tariff], local(date(2026, 1, 13), 12), 96)
    assert day.energy_mxn_per_kwh.shape == (96,)
    assert day.punta.dtype == np.bool_
    punta_slots = np.flatnonzero(day.punta)
    assert punta_slots.tolist() == list(range(24, 40))  # 18:00-22:00
    assert (day.capacity_slots == day.punta).all()
    assert day.energy_mxn_per_kwh[0] == 1.45  # 12:00 intermedia
    assert day.energy_mxn_per_kwh[24] == 1.62  # 18:00 punta
    assert day.energy_mxn_per_kwh[52] == 0.85  # 01:00 base, the next day
    assert day.capacity_mxn_per_kw == 420.0
    assert day.distribution_mxn_per_kw == 59.0
    assert day.start == local(date(2026, 1, 13), 12)


def test_slot_rates_cross_into_a_holiday() -> None:
    # Sunday 16 November 2025 12:00 to Tuesday 18 November 12:00: Monday the 17th is a
    # holiday, so the first punta is Tuesday's... which starts at 18:00, past the horizon.
    rates = slot_rates([gdmth()], local(date(2025, 11, 16), 12), 48 * 4)
    assert not rates.punta.any()
    monday_evening = (24 + 6) * 4 + 2  # Monday 18:30
    assert rates.periods[monday_evening] is INTER
    assert rates.start + timedelta(minutes=15 * monday_evening) == local(date(2025, 11, 17), 18, 30)
