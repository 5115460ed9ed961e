"""A depot's CFE bill for a month from its chargers' energy registers, against numbers
computed by hand: energy by period (punta, base, a holiday as Sunday), a tariff that
changes inside the month, capacity, distribution, fixed, IVA, a month still running."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from charging.tariffs import Period
from portal.models import DepotTariff, DepotTariffPrice, MeterValue, TariffKind, TariffPeriod
from portal.services.charging import bill
from portal.services.charging.bill import Charge
from portal.services.charging.smart import NoTariff

MX = ZoneInfo("America/Mexico_City")
DECEMBER = date(2026, 12, 1)


def add_tariff(db, depot, effective_from, prices, capacity, distribution, fixed, transmission="0"):
    tariff = DepotTariff(
        depot_id=depot.id,
        kind=TariffKind.GDMTH,
        effective_from=effective_from,
        capacity_mxn_per_kw=Decimal(capacity),
        distribution_mxn_per_kw=Decimal(distribution),
        fixed_mxn_per_month=Decimal(fixed),
        transmission_mxn_per_kwh=Decimal(transmission),
    )
    for period, price in zip(
        (TariffPeriod.BASE, TariffPeriod.INTERMEDIA, TariffPeriod.PUNTA), prices, strict=True
    ):
        tariff.prices.append(DepotTariffPrice(period=period, mxn_per_kwh=Decimal(price)))
    db.add(tariff)
    db.flush()


def register(db, charger, readings, evse_id=1):
    """Energy register readings [(local time, Wh)] of one outlet."""
    for when, wh in readings:
        db.add(
            MeterValue(
                charger_id=charger.id,
                evse_id=evse_id,
                sampled_at=when.astimezone(UTC),
                measurand="Energy.Active.Import.Register",
                unit="Wh",
                value=wh,
            )
        )
    db.flush()


def at(day, hour, minute=0):
    return datetime(2026, 12, day, hour, minute, tzinfo=MX)


@pytest.fixture
def depot(db, make_depot, make_charger):
    """Tariff A until 15 December, B (dearer, with transmission) from the 16th; one
    charger whose outlet 1 charged in punta, in base, after the change on a weekday
    and on Christmas (a holiday: a Sunday, so 19:00 is intermedia), and was reset."""
    depot = make_depot(name="Depósito Recibo")
    add_tariff(db, depot, date(2026, 1, 1), ("0.90", "1.50", "1.80"), "420", "59", "900")
    add_tariff(db, depot, date(2026, 12, 16), ("1.00", "1.60", "2.00"), "440", "60", "1000", "0.10")
    charger = make_charger(depot=depot)
    register(
        db,
        charger,
        [
            (at(3, 19), 1_000_000),  # Thursday, punta: 20 kWh in 15 min = 80 kW
            (at(3, 19, 15), 1_020_000),
            (at(4, 3), 1_020_000),  # Friday, base: 17.5 kWh = 70 kW
            (at(4, 3, 15), 1_037_500),
            (at(21, 12), 1_037_500),  # Monday, intermedia under B: 20 kWh over 30 min
            (at(21, 12, 30), 1_057_500),
            (at(25, 19), 1_057_500),  # Christmas 19:00, intermedia: 5 kWh
            (at(25, 19, 15), 1_062_500),
            (at(28, 3), 500),  # a new meter: the drop is not energy
            (at(28, 3, 15), 5_500),  # Monday, base under B: 5 kWh
        ],
    )
    # The charger's own total on EVSE 0 is not counted again.
    register(db, charger, [(at(3, 19), 2_000_000), (at(3, 19, 15), 2_020_000)], evse_id=0)
    depot.charger = charger
    return depot


def amounts(result, charge):
    return [line.amount_cents for line in result.lines if line.charge is charge]


def test_the_month_is_billed_as_cfe_would_by_period_with_the_tariff_change(db, depot):
    result = bill.month_bill(db, depot, DECEMBER, now=datetime(2027, 1, 5, tzinfo=UTC))
    assert not result.in_progress
    assert result.kwh_by_period == {
        Period.BASE: pytest.approx(22.5),
        Period.INTERMEDIA: pytest.approx(25.0),
        Period.PUNTA: pytest.approx(20.0),
    }
    energy = {
        (line.tariff_from, line.period): line.amount_cents
        for line in result.lines
        if line.charge is Charge.ENERGY
    }
    assert energy == {
        (date(2026, 1, 1), Period.BASE): 1_575,  # 17.5 kWh x 0.90
        (date(2026, 1, 1), Period.INTERMEDIA): 0,  # every period is on the receipt
        (date(2026, 1, 1), Period.PUNTA): 3_600,  # 20 kWh x 1.80
        (date(2026, 12, 16), Period.PUNTA): 0,
        (date(2026, 12, 16), Period.BASE): 500,  # 5 kWh x 1.00
        (date(2026, 12, 16), Period.INTERMEDIA): 4_000,  # 25 kWh x 1.60
    }
    assert amounts(result, Charge.TRANSMISSION) == [300]  # 30 kWh under B x 0.10
    # Punta demand 80 kW (above 70 % of the year's 80); the highest, 80 kW too.
    assert result.punta_demand_kw == pytest.approx(80.0)
    assert result.max_demand_kw == pytest.approx(80.0)
    assert result.capacity_demand_kw == pytest.approx(80.0)
    # Monthly charges shared by days: A 15 of 31, B 16 of 31.
    assert amounts(result, Charge.CAPACITY) == [1_625_806, 1_816_774]  # 80 x 420 x 15/31 ...
    assert amounts(result, Charge.DISTRIBUTION) == [228_387, 247_742]  # 80 x 59 x 15/31 ...
    assert amounts(result, Charge.FIXED) == [43_548, 51_613]  # 900 x 15/31, 1000 x 16/31
    assert result.subtotal_cents == 4_023_845
    assert result.iva_cents == 643_815  # 16 %
    assert result.total_cents == 4_667_660


def test_a_month_still_running_is_billed_to_date(db, depot):
    result = bill.month_bill(db, depot, DECEMBER, now=at(22, 0))
    assert result.in_progress
    assert result.until == at(22, 0)
    # Christmas and the 28th have not happened yet.
    assert result.kwh_by_period == {
        Period.BASE: pytest.approx(17.5),
        Period.INTERMEDIA: pytest.approx(20.0),
        Period.PUNTA: pytest.approx(20.0),
    }
    assert amounts(result, Charge.TRANSMISSION) == [200]


def test_capacity_is_floored_at_70_percent_of_the_years_highest_demand(db, depot):
    # 10 November: 37.5 kWh in 15 minutes, 150 kW; nothing of it is December's energy.
    november = datetime(2026, 11, 10, 3, 0, tzinfo=MX)
    register(db, depot.charger, [(november, 962_500), (november + timedelta(minutes=15), 1e6)])
    result = bill.month_bill(db, depot, DECEMBER, now=datetime(2027, 1, 5, tzinfo=UTC))
    assert result.year_max_demand_kw == pytest.approx(150.0)
    assert result.capacity_demand_kw == pytest.approx(105.0)
    assert result.max_demand_kw == pytest.approx(80.0)
    assert sum(result.kwh_by_period.values()) == pytest.approx(67.5)
    assert amounts(result, Charge.CAPACITY) == [2_133_871, 2_384_516]  # 105 x 420 x 15/31 ...


def test_a_depot_without_a_tariff_has_no_bill(db, make_depot):
    with pytest.raises(NoTariff):
        bill.month_bill(db, make_depot(), DECEMBER)


def test_an_intervals_energy_comes_from_the_register_at_its_edges(db, make_depot, make_charger):
    # A reading every 3 minutes from 03:01 (0 Wh), 1 kWh a minute: at 03:15 the register
    # reads 14 kWh (between 03:13's 12 and 03:16's 15), the last reading 27 kWh at 03:28.
    depot = make_depot()
    charger = make_charger(depot=depot)
    register(db, charger, [(at(4, 3, m), (m - 1) * 1000) for m in range(1, 29, 3)])
    kwh = bill.interval_kwh(db, depot.id, at(4, 3), at(4, 3, 30))
    assert kwh.tolist() == pytest.approx([14.0, 13.0])
