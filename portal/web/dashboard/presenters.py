"""The KPI dashboard's panels: a card per panel with its figures, its charts (the
charts module's geometry) and tables, and the same numbers as CSV rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from flask_babel import format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session as OrmSession

from portal.i18n import local_date, local_datetime, money, number, pesos, time_ago
from portal.services.credit.outcomes import BAD_DAYS_PAST_DUE
from portal.services.kpis.charging import ChargingPanel, charging_panel
from portal.services.kpis.collections import CollectionsPanel, collections_summary
from portal.services.kpis.credit import (
    DELINQUENCY_WEEKS,
    Cohort,
    CreditPanel,
    DelinquencyPanel,
    credit_panel,
    early_delinquency,
)
from portal.services.kpis.daily import Days, daily_figures
from portal.services.kpis.energy import EnergyPanel, energy_panel
from portal.services.kpis.fleet import FleetPanel, fleet_utilization
from portal.services.kpis.incidents import IncidentsPanel, incidents_panel
from portal.services.kpis.km import KmPanel, km_per_car
from portal.timeutil import monday_of
from portal.web.charts import Chart, build
from portal.web.labels import INCIDENT_STATUS_LABELS

from .forms import DashboardFilterForm


@dataclass(slots=True)
class Figure:
    label: str
    text: str
    value: float | int | None


@dataclass(slots=True)
class Panel:
    id: str
    title: str
    figures: list[Figure]
    charts: list[Chart]
    note: str = ""
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)


def _pct(value: float) -> str:
    return format_percent(value, "#,##0.0%")


def _day(d: date) -> str:
    return local_date(d, "d MMM")


def _week(d: date) -> str:
    return _("Week of %(day)s", day=local_date(d, "d MMM"))


def period_of(form: DashboardFilterForm, today: date) -> tuple[date, date]:
    if form.period.data == "custom" and form.start.data and form.end.data:
        return form.start.data, form.end.data
    if form.period.data == "month":
        return today.replace(day=1), today
    return monday_of(today), today


def _fleet(p: FleetPanel) -> Panel:
    labels = [_day(d) for d, _n in p.daily_on_road]
    values = [float(n) for _d, n in p.daily_on_road]
    return Panel(
        "fleet",
        _("Fleet utilization"),
        [
            Figure(_("Cars on the road"), number(p.on_road), p.on_road),
            Figure(_("Assigned to a driver"), number(p.assigned), p.assigned),
            Figure(_("In repair"), number(p.in_repair), p.in_repair),
            Figure(_("Idle at a depot"), number(p.idle), p.idle),
            Figure(_("Out of service"), number(p.out_of_service), p.out_of_service),
            Figure(_("Utilization"), _pct(p.utilization), round(p.utilization, 4)),
        ],
        [
            build(
                "chart-fleet",
                _("Cars that drove, per day"),
                "bar",
                labels,
                values,
                [number(v) for v in values],
                label_header=_("Day"),
            )
        ],
    )


def _km(p: KmPanel) -> Panel:
    labels = [_day(d) for d, _v in p.daily]
    values = [v for _d, v in p.daily]
    return Panel(
        "km",
        _("Kilometres per car per day"),
        [
            Figure(
                _("Average km per car per day"),
                number(p.km_per_car_day, 1),
                round(p.km_per_car_day, 1),
            ),
            Figure(_("Kilometres driven"), number(p.km), round(p.km, 1)),
            Figure(_("Car-days with trips"), number(p.car_days), p.car_days),
        ],
        [
            build(
                "chart-km",
                _("Average km per car that drove, per day"),
                "line",
                labels,
                values,
                [number(v, 1) for v in values],
                label_header=_("Day"),
            )
        ],
    )


def _bucket(low: int, high: int | None) -> str:
    if high is None:
        return _("%(low)d days or more", low=low)
    return _("%(low)d to %(high)d days", low=low, high=high)


def _money_figure(label: str, cents: int | None) -> Figure:
    """An amount: shown as money, valued in pesos (the CSV's number)."""
    if cents is None:
        return Figure(label, "—", None)
    return Figure(label, money(cents), float(pesos(cents)))


def _in_pesos(amounts: list[int]) -> list[float]:
    return [float(pesos(cents)) for cents in amounts]


def _collections(p: CollectionsPanel) -> Panel:
    weeks = [_week(w) for w, _b, _c in p.weekly]
    billed = [b for _w, b, _c in p.weekly]
    collected = [c for _w, _b, c in p.weekly]
    buckets = [_bucket(*b) for b, _c, _n in p.overdue]
    overdue = [c for _b, c, _n in p.overdue]
    return Panel(
        "collections",
        _("Collections"),
        [
            _money_figure(_("Billed"), p.billed_cents),
            _money_figure(_("Collected"), p.collected_cents),
            Figure(
                _("Collected over billed"), _pct(p.collection_rate), round(p.collection_rate, 4)
            ),
            _money_figure(_("Overdue"), p.overdue_cents),
            Figure(_("Drivers late"), number(p.drivers_late), p.drivers_late),
        ],
        [
            build(
                "chart-billed",
                _("Billed per week (pesos)"),
                "bar",
                weeks,
                _in_pesos(billed),
                [money(c) for c in billed],
                label_header=_("Week"),
            ),
            build(
                "chart-collected",
                _("Collected per week (pesos)"),
                "bar",
                weeks,
                _in_pesos(collected),
                [money(c) for c in collected],
                label_header=_("Week"),
            ),
            build(
                "chart-overdue",
                _("Owed by drivers late, by days late (pesos)"),
                "bar",
                buckets,
                _in_pesos(overdue),
                [
                    _("%(amount)s (%(drivers)s drivers)", amount=money(c), drivers=number(n))
                    for _b, c, n in p.overdue
                ],
                label_header=_("Days late"),
            ),
        ],
    )


def _energy(p: EnergyPanel) -> Panel:
    labels = [_day(d) for d, _k, _c in p.daily]
    kwh = [k for _d, k, _c in p.daily]
    per_km = p.cost_per_km_cents
    rows = [
        [
            r.depot_name,
            number(r.kwh, 1),
            money(r.cost_cents),
            number(r.sessions),
            number(r.km),
            money(round(r.cost_per_km_cents)) if r.cost_per_km_cents is not None else "—",
        ]
        for r in p.depots
    ]
    return Panel(
        "energy",
        _("Energy"),
        [
            Figure(_("Energy delivered (kWh)"), number(p.kwh, 1), round(p.kwh, 1)),
            _money_figure(_("Energy cost"), p.cost_cents),
            _money_figure(_("Energy cost per km"), None if per_km is None else round(per_km)),
        ],
        [
            build(
                "chart-energy",
                _("kWh per day"),
                "bar",
                labels,
                kwh,
                [number(v, 1) for v in kwh],
                label_header=_("Day"),
            )
        ],
        tables=[
            (
                _("Per depot"),
                [_("Depot"), "kWh", _("Cost"), _("Sessions"), "km", _("Cost per km")],
                rows,
            )
        ],
    )


def _charging(p: ChargingPanel) -> Panel:
    hours = [f"{h:02d}:00" for h, _u in p.hourly]
    use = [u * 100 for _h, u in p.hourly]
    return Panel(
        "charging",
        _("Charging sessions"),
        [
            Figure(_("Sessions"), number(p.sessions), p.sessions),
            Figure(_("Connectors"), number(p.connectors), p.connectors),
            Figure(_("Bookings"), number(p.bookings), p.bookings),
            Figure(_("No-shows"), number(p.no_shows), p.no_shows),
            Figure(_("No-show rate"), _pct(p.no_show_rate), round(p.no_show_rate, 4)),
        ],
        [
            build(
                "chart-connectors",
                _("Connector utilization by hour of day (%)"),
                "bar",
                hours,
                use,
                [number(v, 1) + " %" for v in use],
                label_header=_("Hour"),
            )
        ],
    )


def _incidents(p: IncidentsPanel) -> Panel:
    labels = [str(INCIDENT_STATUS_LABELS[s]) for s, _n in p.open_by_status]
    values = [float(n) for _s, n in p.open_by_status]
    average = p.average_days_to_close
    return Panel(
        "incidents",
        _("Incidents"),
        [
            Figure(_("Open now"), number(p.open), p.open),
            Figure(_("Reported in the period"), number(p.reported), p.reported),
            Figure(_("Closed in the period"), number(p.closed), p.closed),
            Figure(
                _("Average days to close"),
                number(average, 1) if average is not None else "—",
                None if average is None else round(average, 1),
            ),
        ],
        [
            build(
                "chart-incidents",
                _("Open incidents by status"),
                "bar",
                labels,
                values,
                [number(v) for v in values],
                label_header=_("Status"),
            )
        ],
    )


def _cohort_text(c: Cohort) -> str:
    if not c.contracts:
        return _("No contracts")
    if c.unobserved == c.contracts:
        return _("Started before the ledger's history")
    if c.rate is None:
        return _(
            "Too young to judge (%(judged)s of %(contracts)s contracts past %(weeks)d weeks)",
            judged=number(c.judged),
            contracts=number(c.contracts - c.unobserved),
            weeks=DELINQUENCY_WEEKS,
        )
    return _pct(c.rate)


def _cohort_short(c: Cohort) -> str:
    """The rate column of the cohort table (short, so the table fits a tablet)."""
    if c.too_young:
        return _("Too young")
    return _("No ledger history")


def _credit(p: CreditPanel, d: DelinquencyPanel) -> Panel:
    weeks = [_week(w) for w, _s, _a in p.weekly]
    submitted = [float(s) for _w, s, _a in p.weekly]
    months = [local_date(c.month, "MMM yyyy") for c in d.cohorts]
    rates = [(c.rate or 0.0) * 100 for c in d.cohorts]
    judged = [c for c in d.cohorts if c.rate is not None]
    bad, contracts = sum(c.bad for c in judged), sum(c.judged for c in judged)
    overall = bad / contracts if contracts else None
    if d.computed_at is None:
        source = _("Outcomes computed live: the nightly summary has not run yet.")
    else:
        source = _(
            "Outcomes as of %(when)s.", when=local_datetime(d.computed_at, "d MMM yyyy, HH:mm")
        )
    return Panel(
        "credit",
        _("Credit applications"),
        [
            Figure(_("Applications submitted"), number(p.applications), p.applications),
            Figure(_("Decisions"), number(p.decided), p.decided),
            Figure(_("Approved"), number(p.approved), p.approved),
            Figure(_("Declined"), number(p.declined), p.declined),
            Figure(_("Approval rate"), _pct(p.approval_rate), round(p.approval_rate, 4)),
            Figure(
                _("Early delinquency, judged cohorts"),
                _pct(overall) if overall is not None else "—",
                None if overall is None else round(overall, 4),
            ),
        ],
        [
            build(
                "chart-credit",
                _("Applications submitted per week"),
                "bar",
                weeks,
                submitted,
                [number(v) for v in submitted],
                label_header=_("Week"),
            ),
            build(
                "chart-delinquency",
                _("Early delinquency by cohort (%)"),
                "bar",
                months,
                rates,
                [_cohort_text(c) for c in d.cohorts],
                label_header=_("Contracts started in"),
            ),
        ],
        note=_(
            "Early delinquency: the share of the contracts started in a month that went"
            " %(days)d or more days past due within their first %(weeks)d weeks (the"
            " definition of the credit model's labelled outcomes). A cohort is too young"
            " to judge until all its contracts are %(weeks)d weeks old; contracts started"
            " before the ledger's history are left out of the rate. %(source)s"
            " The depot filter does not apply to applications.",
            days=BAD_DAYS_PAST_DUE,
            weeks=DELINQUENCY_WEEKS,
            source=source,
        ),
        tables=[
            (
                _("Early delinquency by cohort"),
                [
                    _("Cohort"),
                    _("Contracts"),
                    _("No ledger history"),
                    _("Judged"),
                    _("Went bad"),
                    _("Rate"),
                ],
                [
                    [
                        month,
                        number(c.contracts),
                        number(c.unobserved),
                        number(c.judged),
                        number(c.bad),
                        _pct(c.rate) if c.rate is not None else _cohort_short(c),
                    ]
                    for month, c in zip(months, d.cohorts, strict=True)
                    if c.contracts
                ],
            )
        ],
    )


def build_panels(
    session: OrmSession, start: date, end: date, depot_id: int | None
) -> tuple[list[Panel], Days]:
    """Every panel, on one read of the period's daily figures (rollup + live)."""
    days = daily_figures(session, start, end, depot_id)
    panels = [
        _fleet(fleet_utilization(session, start, end, depot_id, days)),
        _km(km_per_car(session, start, end, depot_id, days)),
        _collections(collections_summary(session, start, end, depot_id, days)),
        _energy(energy_panel(session, start, end, depot_id, days)),
        _charging(charging_panel(session, start, end, depot_id, days)),
        _incidents(incidents_panel(session, start, end, depot_id)),
        _credit(
            credit_panel(session, start, end, depot_id),
            early_delinquency(session, end, depot_id),
        ),
    ]
    return panels, days


def data_note(days: Days) -> str:
    """Where the figures come from: the rollup's closing day and age, or live."""
    state = days.state
    if state.last_day is None or state.computed_at is None:
        return _(
            "The daily summary has never been computed: every figure is computed live"
            " (slower for long periods)."
        )
    return _(
        "Data up to the close of %(day)s from the daily summary, refreshed %(ago)s;"
        " later days computed live.",
        day=local_date(state.last_day, "d MMM yyyy"),
        ago=time_ago(state.computed_at),
    )


CSV_HEADER = (_l("Panel"), _l("Measure"), _l("Label"), _l("Value"), _l("Shown as"))


def csv_rows(panels: list[Panel]) -> Iterator[list[object]]:
    """Every panel's figures, chart points and table cells, a row each."""
    for panel in panels:
        for figure in panel.figures:
            value = "" if figure.value is None else figure.value
            yield [panel.title, figure.label, "", value, figure.text]
        for chart in panel.charts:
            for label, value, text in zip(chart.labels, chart.values, chart.texts, strict=True):
                yield [panel.title, chart.title, label, round(value, 4), text]
        for title, headers, rows in panel.tables:
            for row in rows:
                for header, cell in zip(headers[1:], row[1:], strict=True):
                    yield [panel.title, f"{title}: {header}", row[0], "", cell]
