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


def _count(label: str, n: int) -> Figure:
    return Figure(label, number(n), n)


def _share(label: str, rate: float | None) -> Figure:
    if rate is None:
        return Figure(label, "—", None)
    return Figure(label, _pct(rate), round(rate, 4))


def _decimal(label: str, value: float | None, digits: int = 1) -> Figure:
    if value is None:
        return Figure(label, "—", None)
    return Figure(label, number(value, digits), round(value, digits))


def _money_figure(label: str, cents: int | None) -> Figure:
    """An amount: shown as money, valued in pesos (the CSV's number)."""
    if cents is None:
        return Figure(label, "—", None)
    return Figure(label, money(cents), float(pesos(cents)))


Point = tuple[str, float, str]  # a chart's label, value and value as shown


def _chart(chart_id: str, title: str, header: str, points: list[Point], kind: str = "bar") -> Chart:
    labels = [label for label, _value, _text in points]
    values = [value for _label, value, _text in points]
    texts = [text for _label, _value, text in points]
    return build(chart_id, title, kind, labels, values, texts, label_header=header)


def _fleet(p: FleetPanel) -> Panel:
    return Panel(
        "fleet",
        _("Fleet utilization"),
        [
            _count(_("Cars on the road"), p.on_road),
            _count(_("Assigned to a driver"), p.assigned),
            _count(_("In repair"), p.in_repair),
            _count(_("Idle at a depot"), p.idle),
            _count(_("Out of service"), p.out_of_service),
            _share(_("Utilization"), p.utilization),
        ],
        [
            _chart(
                "chart-fleet",
                _("Cars that drove, per day"),
                _("Day"),
                [(_day(d), float(n), number(n)) for d, n in p.daily_on_road],
            )
        ],
    )


def _km(p: KmPanel) -> Panel:
    return Panel(
        "km",
        _("Kilometres per car per day"),
        [
            _decimal(_("Average km per car per day"), p.km_per_car_day),
            Figure(_("Kilometres driven"), number(p.km), round(p.km, 1)),
            _count(_("Car-days with trips"), p.car_days),
        ],
        [
            _chart(
                "chart-km",
                _("Average km per car that drove, per day"),
                _("Day"),
                [(_day(d), v, number(v, 1)) for d, v in p.daily],
                kind="line",
            )
        ],
    )


def _bucket(low: int, high: int | None) -> str:
    if high is None:
        return _("%(low)d days or more", low=low)
    return _("%(low)d to %(high)d days", low=low, high=high)


def _collections(p: CollectionsPanel) -> Panel:
    def weekly(title: str, chart_id: str, amounts: list[tuple[date, int]]) -> Chart:
        points = [(_week(w), float(pesos(c)), money(c)) for w, c in amounts]
        return _chart(chart_id, title, _("Week"), points)

    return Panel(
        "collections",
        _("Collections"),
        [
            _money_figure(_("Billed"), p.billed_cents),
            _money_figure(_("Collected"), p.collected_cents),
            _share(_("Collected over billed"), p.collection_rate),
            _money_figure(_("Overdue"), p.overdue_cents),
            _count(_("Drivers late"), p.drivers_late),
        ],
        [
            weekly(_("Billed per week (pesos)"), "chart-billed", [(w, b) for w, b, _c in p.weekly]),
            weekly(
                _("Collected per week (pesos)"),
                "chart-collected",
                [(w, c) for w, _b, c in p.weekly],
            ),
            _chart(
                "chart-overdue",
                _("Owed by drivers late, by days late (pesos)"),
                _("Days late"),
                [
                    (
                        _bucket(*b),
                        float(pesos(c)),
                        _("%(amount)s (%(drivers)s drivers)", amount=money(c), drivers=number(n)),
                    )
                    for b, c, n in p.overdue
                ],
            ),
        ],
    )


def _energy(p: EnergyPanel) -> Panel:
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
    headers = [_("Depot"), "kWh", _("Cost"), _("Sessions"), "km", _("Cost per km")]
    return Panel(
        "energy",
        _("Energy"),
        [
            _decimal(_("Energy delivered (kWh)"), p.kwh),
            _money_figure(_("Energy cost"), p.cost_cents),
            _money_figure(_("Energy cost per km"), None if per_km is None else round(per_km)),
        ],
        [
            _chart(
                "chart-energy",
                _("kWh per day"),
                _("Day"),
                [(_day(d), k, number(k, 1)) for d, k, _c in p.daily],
            )
        ],
        tables=[(_("Per depot"), headers, rows)],
    )


def _charging(p: ChargingPanel) -> Panel:
    return Panel(
        "charging",
        _("Charging sessions"),
        [
            _count(_("Sessions"), p.sessions),
            _count(_("Connectors"), p.connectors),
            _count(_("Bookings"), p.bookings),
            _count(_("No-shows"), p.no_shows),
            _share(_("No-show rate"), p.no_show_rate),
        ],
        [
            _chart(
                "chart-connectors",
                _("Connector utilization by hour of day (%)"),
                _("Hour"),
                [(f"{h:02d}:00", u * 100, number(u * 100, 1) + " %") for h, u in p.hourly],
            )
        ],
    )


def _incidents(p: IncidentsPanel) -> Panel:
    return Panel(
        "incidents",
        _("Incidents"),
        [
            _count(_("Open now"), p.open),
            _count(_("Reported in the period"), p.reported),
            _count(_("Closed in the period"), p.closed),
            _decimal(_("Average days to close"), p.average_days_to_close),
        ],
        [
            _chart(
                "chart-incidents",
                _("Open incidents by status"),
                _("Status"),
                [
                    (str(INCIDENT_STATUS_LABELS[st]), float(n), number(n))
                    for st, n in p.open_by_status
                ],
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


def _outcomes_source(d: DelinquencyPanel) -> str:
    if d.computed_at is None:
        return _("Outcomes computed live: the nightly summary has not run yet.")
    return _("Outcomes as of %(when)s.", when=local_datetime(d.computed_at, "d MMM yyyy, HH:mm"))


def _cohort_table(d: DelinquencyPanel) -> tuple[str, list[str], list[list[str]]]:
    headers = [
        _("Cohort"),
        _("Contracts"),
        _("No ledger history"),
        _("Judged"),
        _("Went bad"),
        _("Rate"),
    ]
    rows = [
        [
            local_date(c.month, "MMM yyyy"),
            number(c.contracts),
            number(c.unobserved),
            number(c.judged),
            number(c.bad),
            _pct(c.rate) if c.rate is not None else _cohort_short(c),
        ]
        for c in d.cohorts
        if c.contracts
    ]
    return _("Early delinquency by cohort"), headers, rows


def _credit(p: CreditPanel, d: DelinquencyPanel) -> Panel:
    judged = [c for c in d.cohorts if c.rate is not None]
    bad, contracts = sum(c.bad for c in judged), sum(c.judged for c in judged)
    return Panel(
        "credit",
        _("Credit applications"),
        [
            _count(_("Applications submitted"), p.applications),
            _count(_("Decisions"), p.decided),
            _count(_("Approved"), p.approved),
            _count(_("Declined"), p.declined),
            _share(_("Approval rate"), p.approval_rate),
            _share(_("Early delinquency, judged cohorts"), bad / contracts if contracts else None),
        ],
        [
            _chart(
                "chart-credit",
                _("Applications submitted per week"),
                _("Week"),
                [(_week(w), float(n), number(n)) for w, n, _a in p.weekly],
            ),
            _chart(
                "chart-delinquency",
                _("Early delinquency by cohort (%)"),
                _("Contracts started in"),
                [
                    (local_date(c.month, "MMM yyyy"), (c.rate or 0.0) * 100, _cohort_text(c))
                    for c in d.cohorts
                ],
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
            source=_outcomes_source(d),
        ),
        tables=[_cohort_table(d)],
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
