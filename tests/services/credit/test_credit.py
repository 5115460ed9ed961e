"""Credit services: validation, consent, earnings import, features, scoring, policy,
decisions, proposals, model registry, outcomes export."""

import json
import math
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.models import (
    ApplicationStatus,
    AuditEvent,
    CreditDecision,
    EarningsDay,
    EntryKind,
    Outcome,
    Role,
)
from portal.services import DomainError, FieldError
from portal.services.credit.applications import (
    CONSENT_TEXT_VERSION,
    PRIVACY_NOTICE_VERSION,
    VEHICLES,
    record_consent,
    rfc_warning,
    submit_application,
)
from portal.services.credit.decisions import decide, propose_contract
from portal.services.credit.earnings import import_earnings
from portal.services.credit.features import TARGET, application_features, weekly_sums
from portal.services.credit.outcomes import contract_went_bad, export_outcomes
from portal.services.credit.scoring import cutoff_history, cutoff_values, policy_result, set_cutoffs
from portal.services.ledger import post_entry
from portal.timeutil import local_midnight
from scoring.store import (
    _cache,
    activate_model,
    load_version,
    register_model,
    score_application,
    stability_report,
)
from tests.factories import earnings_json

TODAY = date.today()


def _score(db, application):
    application.status = ApplicationStatus.SCORING
    return score_application(db, application.id, today=TODAY)


# --- applicant data ------------------------------------------------------------


def test_an_invalid_curp_is_refused_in_spanish_terms(make_application):
    with pytest.raises(FieldError) as info:
        make_application(curp="LOOM880309MDFPRR09")
    assert info.value.field == "curp"


def test_rfc_shape_is_required_but_a_wrong_check_digit_only_warns(db, make_application):
    with pytest.raises(FieldError) as info:
        make_application(rfc="NOT-AN-RFC")
    assert info.value.field == "rfc"
    application = make_application(rfc="LOOM880309AB1")
    assert application.rfc == "LOOM880309AB1"
    assert rfc_warning(application) in (True, False)
    from portal.services.identifiers import rfc_check_digit

    good = "LOOM880309AB" + rfc_check_digit("LOOM880309AB")
    application.rfc = good
    assert rfc_warning(application) is False
    application.rfc = good[:-1] + ("1" if good[-1] != "1" else "2")
    assert rfc_warning(application) is True


def test_missing_consent_cannot_be_scored(db, make_application, active_model):
    application = make_application(consent=False)
    with pytest.raises(DomainError, match="consent"):
        submit_application(db, application, actor_id=None, ip=None)
    with pytest.raises(DomainError, match="consent"):
        score_application(db, application.id, today=TODAY)


def test_a_curp_made_invalid_afterwards_cannot_be_scored(db, make_application, active_model):
    application = make_application()
    application.curp = "XXXX000000HDFXXX00"
    with pytest.raises(DomainError, match="CURP"):
        score_application(db, application.id, today=TODAY)


def test_consent_is_recorded_once_with_versions_who_and_ip(db, make_application):
    application = make_application()
    first = application.consent_at
    record_consent(db, application, recorded_by_id=None, ip="1.1.1.1")
    assert application.consent_at == first
    assert application.consent_ip == "10.0.0.1"
    assert application.consent_text_version == CONSENT_TEXT_VERSION
    assert application.privacy_notice_version == PRIVACY_NOTICE_VERSION
    actions = set(db.scalars(select(AuditEvent.action)))
    assert "credit.consent_recorded" in actions


# --- earnings import -----------------------------------------------------------


def _days(db, application):
    return db.scalar(
        select(func.count(EarningsDay.id)).where(EarningsDay.application_id == application.id)
    )


def test_json_import_stores_days_and_profile(db, make_application):
    application = make_application()
    assert _days(db, application) == 56
    (account,) = application.accounts
    assert float(account.rating) == 4.93
    assert account.lifetime_trips == 5200
    assert account.debt_paid_cents == 42_000


def test_import_is_idempotent_by_platform_and_date(db, make_application):
    application = make_application()
    again = earnings_json(amount=2000.0)
    import_earnings(db, application, again, "u.json", actor_id=None, today=TODAY)
    assert _days(db, application) == 56
    amounts = set(
        db.scalars(
            select(EarningsDay.amount_cents).where(EarningsDay.application_id == application.id)
        )
    )
    assert amounts == {200_000, 120_000}


def test_csv_import_and_a_second_platform(db, make_application):
    application = make_application(earnings=False)
    day = (TODAY - timedelta(days=3)).isoformat()
    content = (
        f"platform,earning_date,amount,cash_amount,count_trips\ndidi,{day},850.50,100,9\n"
    ).encode()
    result, _ = import_earnings(db, application, content, "didi.csv", actor_id=None, today=TODAY)
    assert result.rows == 1
    assert result.platforms == ["didi"]
    row = db.scalar(select(EarningsDay).where(EarningsDay.application_id == application.id))
    assert (row.amount_cents, row.cash_amount_cents, row.trips) == (85_050, 10_000, 9)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("platform,date,amount\n", "Line 1"),
        ("platform,earning_date,amount,cash_amount,count_trips\nuber,2020-13-01,1,0,1\n", "L2"),
        (
            "platform,earning_date,amount,cash_amount,count_trips\n"
            f"uber,{TODAY - timedelta(days=2)},100,0,3\nuber,{TODAY},abc,0,1\n",
            "L3",
        ),
        (
            f"platform,earning_date,amount,cash_amount,count_trips\nlyft,{TODAY},1,0,1\n",
            "unknown platform",
        ),
        (
            f"platform,earning_date,amount,cash_amount,count_trips\nuber,{TODAY},100,150,1\n",
            "cash amount is larger",
        ),
        (
            f"platform,earning_date,amount,cash_amount,count_trips\nuber,{TODAY},100,0,-1\n",
            "trips",
        ),
        ('{"platform": "uber", "earnings": [{"earning_date": "x"', "Line 1"),
        ('{"platform": "uber",\n "earnings": [{"amount": 5}]}', "earning_date is missing"),
    ],
)
def test_malformed_rows_are_refused_with_where_they_are(db, make_application, content, message):
    application = make_application(earnings=False)
    with pytest.raises(DomainError) as info:
        import_earnings(db, application, content.encode(), "x.csv", actor_id=None, today=TODAY)
    assert message in str(info.value)
    assert _days(db, application) == 0  # all or nothing


# --- features ------------------------------------------------------------------


def test_weekly_sums_use_complete_weeks_only():
    monday = date(2025, 5, 5)
    days = [(monday - timedelta(days=1), 10_000, 1)]  # a Sunday before: incomplete week
    days += [(monday + timedelta(days=i), 100_000, 10) for i in range(14)]
    weeks = weekly_sums(days)
    assert weeks == [(monday, 700_000, 70), (monday + timedelta(weeks=1), 700_000, 70)]


def test_features_from_the_application(db, make_application):
    application = make_application()
    features = application_features(db, application, TODAY)
    # 6 days at 1,300 and a Sunday at 780: 8,580 a week, every week the same.
    assert features["weekly_earnings_mxn"] == 8580
    assert features["earnings_cv"] == 0
    assert features["weekly_trips"] == 98
    assert features["rating"] == 4.93
    assert features["acceptance_rate"] == 0.91
    assert features["platform_debt_mxn"] == 0
    assert 28 <= features["tenure_months"] <= 31
    assert math.isnan(features["km_per_day"])  # telematics not yet available
    assert math.isnan(features["max_days_past_due"])  # not a renewal
    assert not {"sexo", "edad", "sex", "age"} & set(features)


def test_a_renewal_carries_its_worst_days_past_due(db, make_application, make_contract):
    contract = make_contract(starts_on=TODAY - timedelta(weeks=8), grace_days=0)
    post_entry(
        db,
        driver_id=contract.driver_id,
        contract_id=contract.id,
        kind=EntryKind.RENT,
        amount_cents=350_000,
        idempotency_key="t-rent",
        description="Renta",
        posted_at=local_midnight(TODAY - timedelta(days=TODAY.weekday() + 21)),
    )
    application = make_application(driver_id=contract.driver_id)
    features = application_features(db, application, TODAY)
    assert features["max_days_past_due"] == 21 + TODAY.weekday()


# --- scoring, policy, decisions ------------------------------------------------


def test_scoring_records_score_band_pd_reasons_and_policy(db, make_application, active_model):
    application = make_application()
    score = _score(db, application)
    assert 300 < score.score < 900
    assert score.band in "ABCDE"
    assert 0 < score.pd < 1
    assert score.synthetic is True
    assert score.model_version_id == active_model.id
    assert all(isinstance(r["text"], str) and r["points"] >= 1 for r in score.reason_codes)
    assert score.features["weekly_earnings_mxn"] == 8580
    assert score.policy_result == policy_result(score.score, 560, 525)


def test_scoring_is_deterministic(db, make_application, active_model):
    application = make_application()
    first = _score(db, application)
    application.status = ApplicationStatus.SCORING
    second = score_application(db, application.id, today=TODAY)
    assert (first.score, first.pd, first.reason_codes) == (
        second.score,
        second.pd,
        second.reason_codes,
    )


def test_policy_cut_offs():
    assert policy_result(600, 560, 525) == Outcome.APPROVE
    assert policy_result(560, 560, 525) == Outcome.APPROVE
    assert policy_result(559, 560, 525) == Outcome.REFER
    assert policy_result(525, 560, 525) == Outcome.REFER
    assert policy_result(524, 560, 525) == Outcome.DECLINE


def test_cut_offs_are_audited_and_kept_as_history(db, make_user):
    manager = make_user(Role.MANAGER)
    set_cutoffs(
        db, approve_at=570, decline_below=530, actor_id=manager.id, reason="Primer trimestre"
    )
    _cutoffs(db, manager, 580, 540, "Q2 ok")
    assert cutoff_values(db) == (580, 540)
    assert [c.approve_at_or_above for c in cutoff_history(db)] == [580, 570]
    with pytest.raises(FieldError):
        set_cutoffs(db, approve_at=500, decline_below=540, actor_id=manager.id, reason="al revés")
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "credit.cutoffs_set").order_by(AuditEvent.id)
    ).all()
    assert len(events) == 2
    assert events[1].details["previous"] == {"approve_at": 570, "decline_below": 530}


def _cutoffs(db, manager, approve_at, decline_below, reason):
    return set_cutoffs(
        db, approve_at=approve_at, decline_below=decline_below, actor_id=manager.id, reason=reason
    )


def _force_policy(db, manager, score_value, approve):
    """Cut-offs putting `score_value` in the approve (True), decline (False) or refer band."""
    if approve is True:
        set_cutoffs(db, approve_at=300, decline_below=300, actor_id=manager.id, reason="prueba uno")
    elif approve is False:
        set_cutoffs(db, approve_at=900, decline_below=900, actor_id=manager.id, reason="prueba dos")
    else:
        set_cutoffs(
            db, approve_at=900, decline_below=300, actor_id=manager.id, reason="prueba tres"
        )


def test_staff_follow_the_policy_and_approval_carries_a_proposal(
    db, make_application, make_user, active_model
):
    staff, manager = make_user(Role.STAFF), make_user(Role.MANAGER)
    _force_policy(db, manager, 0, True)
    application = make_application()
    score = _score(db, application)
    assert score.policy_result == Outcome.APPROVE
    decision = decide(db, application, Outcome.APPROVE, actor=staff)
    assert application.status == ApplicationStatus.APPROVED
    assert decision.override is False
    proposal = propose_contract(score.band, "BYD Dolphin Mini")
    assert decision.proposed_weekly_rent_cents == proposal.weekly_rent_cents
    assert decision.proposed_term_weeks == proposal.term_weeks


def test_an_override_needs_a_manager_and_a_reason_and_is_audited(
    db, make_application, make_user, active_model
):
    staff, manager = make_user(Role.STAFF), make_user(Role.MANAGER)
    _force_policy(db, manager, 0, False)
    application = make_application()
    _score(db, application)
    with pytest.raises(DomainError, match="manager"):
        decide(db, application, Outcome.APPROVE, actor=staff, reason="Conozco al conductor")
    with pytest.raises(FieldError):
        decide(db, application, Outcome.APPROVE, actor=manager, reason="")
    decision = decide(
        db, application, Outcome.APPROVE, actor=manager, reason="Ingresos comprobados en efectivo"
    )
    assert decision.override is True
    assert decision.approved_by_id == manager.id
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "credit.override"))
    assert event.actor_id == manager.id
    assert event.details["policy_result"] == "decline"
    assert event.details["reason"] == "Ingresos comprobados en efectivo"


def test_a_referral_goes_to_review_automatically_and_a_manager_decides(
    db, make_application, make_user, active_model
):
    staff, manager = make_user(Role.STAFF), make_user(Role.MANAGER)
    _force_policy(db, manager, 0, None)
    application = make_application()
    _score(db, application)
    assert application.status == ApplicationStatus.REFERRED
    automatic = db.scalar(select(CreditDecision).where(CreditDecision.automatic))
    assert automatic.outcome == Outcome.REFER
    with pytest.raises(DomainError):
        decide(db, application, Outcome.DECLINE, actor=staff, reason="no alcanza")
    decide(db, application, Outcome.DECLINE, actor=manager, reason="Deuda con DiDi alta")
    assert application.status == ApplicationStatus.DECLINED


def test_a_decision_needs_the_current_score(db, make_application, make_user, active_model):
    manager = make_user(Role.MANAGER)
    application = make_application()
    _score(db, application)
    import_earnings(
        db, application, earnings_json(amount=900.0), "u.json", actor_id=None, today=TODAY
    )
    assert application.status == ApplicationStatus.SCORING
    with pytest.raises(DomainError):
        decide(db, application, Outcome.DECLINE, actor=manager, reason="sin score")


@pytest.mark.parametrize(
    ("band", "vehicle", "rent", "deposit_weeks", "term"),
    [
        ("A", "BYD Dolphin Mini", 3100, 1, 156),
        ("C", "BYD Dolphin Mini", 3600, 2, 156),
        ("E", "BYD Dolphin Mini", 4200, 4, 182),
        ("A", "JAC E10X", 2800, 1, 156),
        ("D", "JAC E10X", 3600, 3, 182),
    ],
)
def test_proposal_table(band, vehicle, rent, deposit_weeks, term):
    proposal = propose_contract(band, vehicle)
    assert proposal.weekly_rent_cents == rent * 100
    assert proposal.deposit_cents == rent * deposit_weeks * 100
    assert proposal.term_weeks == term


def test_every_proposal_is_within_the_weekly_price_range():
    for band in "ABCDE":
        for vehicle in VEHICLES:
            assert 280_000 <= propose_contract(band, vehicle).weekly_rent_cents <= 420_000


# --- models --------------------------------------------------------------------


def test_model_switch_is_audited_and_only_one_is_active(
    db, make_user, active_model, synthetic_model_dir, tmp_path
):
    import shutil

    admin = make_user(Role.ADMIN)
    copy = tmp_path / "sintetico-copia"
    shutil.copytree(synthetic_model_dir, copy)
    second = register_model(db, copy)
    assert active_model.active
    assert not second.active
    activate_model(db, second.id, actor_id=admin.id, ip="10.1.1.1")
    db.refresh(active_model)
    assert second.active
    assert not active_model.active
    event = db.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "credit.model_activated")
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    assert event.actor_id == admin.id
    assert event.details["previous"] == "sintetico-test"


def test_a_directory_that_is_not_a_model_is_refused(db, tmp_path):
    with pytest.raises(DomainError):
        register_model(db, tmp_path)


def test_stability_report_of_recent_applications(db, make_application, active_model):
    _score(db, make_application())
    report = stability_report(db, active_model)
    assert report["rows"] == 1
    assert report["score"]["status"] in {"stable", "watch", "shift"}
    assert "weekly_earnings_mxn" in report["characteristics"]


# --- outcomes ------------------------------------------------------------------


def _rent(db, contract, week, key):
    monday = contract.starts_on + timedelta(weeks=week)
    return post_entry(
        db,
        driver_id=contract.driver_id,
        contract_id=contract.id,
        kind=EntryKind.RENT,
        amount_cents=350_000,
        idempotency_key=key,
        description="Renta",
        posted_at=local_midnight(monday),
    )


def _pay(db, contract, day, key, cents=350_000):
    return post_entry(
        db,
        driver_id=contract.driver_id,
        contract_id=contract.id,
        kind=EntryKind.PAYMENT,
        amount_cents=-cents,
        idempotency_key=key,
        description="Pago",
        posted_at=local_midnight(day) + timedelta(hours=12),
    )


def _monday(weeks_ago):
    return TODAY - timedelta(days=TODAY.weekday()) - timedelta(weeks=weeks_ago)


def test_outcome_labels_from_the_ledger(db, make_contract):
    good = make_contract(starts_on=_monday(30), grace_days=2)
    for w in range(26):
        _rent(db, good, w, f"g-r{w}")
        _pay(db, good, good.starts_on + timedelta(weeks=w, days=1), f"g-p{w}")
    bad = make_contract(starts_on=_monday(30), grace_days=2)
    for w in range(26):
        _rent(db, bad, w, f"b-r{w}")
        if w not in (5, 6, 7, 8, 9, 10):  # six weeks unpaid: 30+ days past due
            _pay(db, bad, bad.starts_on + timedelta(weeks=w, days=1), f"b-p{w}")
    late_but_cured = make_contract(starts_on=_monday(30), grace_days=2)
    _rent(db, late_but_cured, 0, "c-r0")
    _pay(db, late_but_cured, late_but_cured.starts_on + timedelta(days=20), "c-p0")
    young = make_contract(starts_on=_monday(4), grace_days=2)
    _rent(db, young, 0, "y-r0")
    assert contract_went_bad(db, good, TODAY) is False
    assert contract_went_bad(db, bad, TODAY) is True
    assert contract_went_bad(db, late_but_cured, TODAY) is False
    assert contract_went_bad(db, young, TODAY) is None  # still under observation


def test_export_outcomes_rows_have_the_features_and_the_label(
    db, make_application, make_contract, make_user, active_model
):
    manager = make_user(Role.MANAGER)
    contract = make_contract(starts_on=_monday(30), grace_days=2)
    for w in range(8):
        _rent(db, contract, w, f"e-r{w}")
    application = make_application(driver_id=contract.driver_id)
    _force_policy(db, manager, 0, True)
    _score(db, application)
    decide(db, application, Outcome.APPROVE, actor=manager)
    rows = export_outcomes(db, TODAY)
    assert len(rows) == 1
    assert rows[0]["contrato_id"] == contract.number
    assert rows[0][TARGET] == 1
    assert rows[0]["weekly_earnings_mxn"] == 8580
    assert json.dumps(rows[0])  # plain values only


def test_a_model_saved_by_an_older_engine_is_a_recorded_refusal(
    db, make_application, synthetic_model_dir, tmp_path
):
    import shutil

    old = tmp_path / "antiguo"
    shutil.copytree(synthetic_model_dir, old)
    version = register_model(db, old, name="antiguo")
    manifest = json.loads((old / "manifest.json").read_text())
    older = {"format_version": 1, "models": ["boosting", "scorecard"]}
    (old / "manifest.json").write_text(json.dumps(manifest | older))
    _cache.clear()
    application = make_application()
    submit_application(db, application, actor_id=None, ip=None)
    with pytest.raises(DomainError, match="antiguo cannot be loaded"):
        score_application(db, application.id, today=date.today())
    assert version.active


def test_a_model_swapped_after_registration_is_never_unpickled(db, tmp_path, synthetic_model_dir):
    """The manifest sits beside the file, so an attacker rewrites both; the hash that
    counts is the one in the database, checked before the file is unpickled."""
    import shutil

    from tests.planted import swap_in_a_planted_model

    directory = tmp_path / "model"
    shutil.copytree(synthetic_model_dir, directory)
    version = register_model(db, directory, name="cambiado", activate_if_none=False)
    marker = tmp_path / "ran"
    swap_in_a_planted_model(directory, marker)
    with pytest.raises(DomainError, match="changed since it was registered"):
        load_version(version)
    assert not marker.exists()
