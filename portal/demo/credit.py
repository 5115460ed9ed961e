"""Demo credit data: a SYNTHETIC driver model and applications in every state.

Deterministic and idempotent: applications are found again by CURP; the model
directory is reused when it exists (trained once, scorecard only, in seconds).
"""

from __future__ import annotations

import json
import os
import random
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.config import ROOT
from portal.models import ApplicationStatus, CreditApplication, Outcome, Role, User
from portal.services.credit.applications import (
    ApplicantData,
    create_application,
    record_consent,
    submit_application,
    withdraw_application,
)
from portal.services.credit.decisions import decide
from portal.services.credit.earnings import import_earnings
from portal.services.credit.models import get_active_model
from portal.services.identifiers import make_curp, make_rfc
from scoring.store import register_model, score_application, train_synthetic_model

DEMO_MODEL_NAME = "sintetico-demo-s7"
#: (first name, last names, vehicle, weekly earnings MXN, week-to-week spread, final state)
APPLICANTS = [
    ("Jorge", "Medina Cruz", "BYD Dolphin Mini", 9800, 0.08, "approve"),
    ("Sofía", "Navarro Gil", "JAC E10X", 10400, 0.06, "scored"),
    ("Ramón", "Esquivel Luna", "BYD Dolphin Mini", 2600, 0.55, "decline"),
    ("Patricia", "Olvera Soto", "JAC E10X", 4000, 0.35, "scored-any"),
    ("Héctor", "Ibarra Peña", "BYD Dolphin Mini", 3400, 0.45, "scored-any"),
    ("Daniela", "Fuentes Mora", "JAC E10X", 7000, 0.2, "withdrawn"),
    ("Ulises", "Quiroz Rangel", "BYD Dolphin Mini", 8000, 0.2, "submitted"),
    ("Karla", "Benítez Ávila", "JAC E10X", 7600, 0.15, "draft"),
    ("Mauricio", "Carrillo Vega", "BYD Dolphin Mini", 6800, 0.25, "scoring"),
]


def models_dir() -> Path:
    instance = Path(os.environ.get("LAFA_INSTANCE", ROOT / "instance"))
    return Path(os.environ.get("CREDIT_MODELS_DIR", instance / "models"))


def ensure_demo_model(session: Session) -> None:
    if get_active_model(session) is not None:
        return
    out = models_dir() / DEMO_MODEL_NAME
    if not out.exists():
        train_synthetic_model(out, rows=3000, seed=7, kinds=("scorecard",), folds=3)
    register_model(session, out, name=DEMO_MODEL_NAME)


def _export(rng: random.Random, today: date, weekly: float, spread: float) -> bytes:
    platforms = [("uber", 0.65), ("didi", 0.35)] if rng.random() < 0.7 else [("uber", 1.0)]
    accounts = []
    end = today - timedelta(days=1)
    week_factor = {}
    for k in range(10):
        week_factor[k] = max(0.2, rng.gauss(1, spread))
    for platform, share in platforms:
        rows = []
        for i in range(60 if platform == "uber" else 50):
            day = end - timedelta(days=i)
            base = weekly * share / 6.5 * week_factor[i // 7]
            worked = day.weekday() != 6 or rng.random() < 0.5
            if not worked:
                continue
            amount = round(max(0.0, rng.gauss(base, base * 0.15)), 2)
            rows.append(
                {
                    "earning_date": day.isoformat(),
                    "amount": amount,
                    "cash_amount": round(amount * rng.uniform(0.1, 0.4), 2),
                    "count_trips": max(0, round(amount / rng.uniform(85, 105))),
                }
            )
        tenure_days = rng.randint(120, 1500)
        accounts.append(
            {
                "platform": platform,
                "profile": {
                    "rating": round(rng.uniform(4.6, 4.98), 2),
                    "acceptance_rate": round(rng.uniform(0.6, 0.97), 3),
                    "cancellation_rate": round(rng.uniform(0.01, 0.12), 3),
                    "lifetime_trips": tenure_days * rng.randint(4, 12),
                    "first_trip_date": (today - timedelta(days=tenure_days)).isoformat(),
                    "debt_pending": rng.choice([0, 0, 0, 350, 1200]),
                    "debt_paid": rng.choice([0, 200, 800]),
                },
                "earnings": rows,
            }
        )
    return json.dumps({"accounts": accounts}).encode()


def seed_demo_credit(session: Session, today: date) -> None:
    ensure_demo_model(session)
    staff = session.scalar(select(User).where(User.role == Role.STAFF).order_by(User.id))
    manager = session.scalar(select(User).where(User.role == Role.MANAGER).order_by(User.id))
    rng = random.Random(7007)
    for i, (first, lasts, vehicle, weekly, spread, state) in enumerate(APPLICANTS):
        last, second = lasts.split(" ")
        born = date(1985, 1, 1) + timedelta(days=397 * i + 11)
        curp = make_curp(first, last, second, born, "H" if i % 2 == 0 else "M", "DF", rng)
        rfc = make_rfc(curp, rng)
        export = _export(rng, today, weekly, spread)
        if session.scalar(select(CreditApplication.id).where(CreditApplication.curp == curp)):
            continue
        application = create_application(
            session,
            ApplicantData(
                first_name=first,
                last_name=last,
                second_last_name=second,
                curp=curp,
                rfc=rfc,
                phone=f"55{7000_0000 + i * 1371:08d}",
                email=f"{first.lower()}.{last.lower()}@example.com".replace("í", "i").replace(
                    "é", "e"
                ),
                licence_number=f"CDMX{rng.randint(10**7, 10**8 - 1)}",
                licence_expires_on=today + timedelta(days=400 + 30 * i),
                address="Calz. de Tlalpan 1500, CDMX",
                requested_vehicle=vehicle,
            ),
            actor_id=staff.id if staff else None,
            today=today,
        )
        record_consent(
            session, application, recorded_by_id=staff.id if staff else None, ip="127.0.0.1"
        )
        import_earnings(session, application, export, "demo.json", actor_id=None, today=today)
        if state == "draft":
            continue
        submit_application(session, application, actor_id=None, ip=None)
        if state in ("submitted", "scoring"):
            # "submitted": a scoring attempt that found no model (as the job records it).
            if state == "submitted":
                application.status = ApplicationStatus.SUBMITTED
            continue
        score = score_application(session, application.id, today=today)
        if state == "withdrawn" and staff is not None:
            withdraw_application(session, application, actor_id=staff.id, ip=None)
        elif state in ("approve", "decline") and manager is not None:
            outcome = Outcome(state)
            reason = "" if score.policy_result == outcome else "Revisión de la demostración"
            decide(session, application, outcome, actor=manager, reason=reason)
    session.flush()
