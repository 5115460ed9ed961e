"""Drivers from a file: each row checked (phone, names, CURP, RFC, e-mail, licence)
against the drivers and users there are; each new one inserted with their log-in.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import Driver, DriverStatus, Role, User
from portal.services import N_
from portal.services.drivers import clean_curp, clean_email, clean_phone, clean_rfc
from portal.services.fleet_import.bulk import audit_rows, in_chunks, insert_audit
from portal.services.fleet_import.parse import iso_date, phone_or_none
from portal.services.fleet_import.report import ImportReport, RowError, RowRefused, checked, refuse
from portal.services.users import NO_PASSWORD


def import_drivers(
    session: Session,
    rows: list[tuple[int, dict[str, str]]],
    report: ImportReport,
    *,
    actor_id: int | None,
    today: date,
) -> None:
    existing: dict[str, Driver] = {}
    curps: dict[str, str] = {}  # CURP -> phone of the driver who has it
    user_phones: set[str] = set()
    phones_in = [p for p in (phone_or_none(r["phone"]) for _, r in rows) if p]
    curps_in = [r["curp"].upper() for _, r in rows]
    for chunk in in_chunks(phones_in):
        existing.update(
            {d.phone: d for d in session.scalars(select(Driver).where(Driver.phone.in_(chunk)))}
        )
        taken = select(User.phone).where(User.phone.in_(chunk))
        user_phones.update(p for p in session.scalars(taken) if p)
    for chunk in in_chunks(curps_in):
        by_curp = select(Driver.curp, Driver.phone).where(Driver.curp.in_(chunk))
        curps.update((curp, phone) for curp, phone in session.execute(by_curp))
    seen_phone: dict[str, int] = {}
    seen_curp: dict[str, int] = {}
    fresh: list[tuple[int, dict[str, Any]]] = []
    for line, row in rows:
        try:
            phone = checked("phone", clean_phone, row["phone"])
            first, last = row["first_name"], row["last_name"]
            if not first:
                raise refuse("first_name", N_("Write the driver's first name."))
            if not last:
                raise refuse("last_name", N_("Write the driver's last name."))
            curp = checked("curp", clean_curp, row["curp"])
            rfc = checked("rfc", clean_rfc, row["rfc"])
            email = checked("email", clean_email, row["email"])
            expires = (
                iso_date("license_expires", row["license_expires"])
                if row["license_expires"]
                else None
            )
            if phone in seen_phone:
                raise refuse(
                    "phone", N_("The same phone is on line %(line)d."), line=seen_phone[phone]
                )
            if curp in seen_curp:
                raise refuse("curp", N_("The same CURP is on line %(line)d."), line=seen_curp[curp])
            seen_phone[phone], seen_curp[curp] = line, line
            values = {
                "first_name": first[:100],
                "last_name": last[:100],
                "curp": curp,
                "rfc": rfc,
                "phone": phone,
                "email": email,
                "licence_number": row["license_number"][:30] or None,
                "licence_expires_on": expires,
            }
            old = existing.get(phone)
            if old is not None:
                if old.curp != curp:
                    raise refuse("phone", N_("Another person already has that mobile number."))
                report.unchanged += 1
                continue
            if curp in curps:
                raise refuse("curp", N_("A driver with that CURP already exists."))
            if phone in user_phones:
                raise refuse("phone", N_("Another person already has that mobile number."))
        except RowRefused as refused:
            report.errors.append(RowError(line, refused.column, refused.error))
            continue
        fresh.append((line, values))
    report.created = len(fresh)
    if report.errors or report.dry_run or not fresh:
        return
    now = utcnow()
    ids: list[tuple[int, int]] = []
    for chunk in in_chunks(fresh):
        users = session.execute(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [
                {
                    "phone": v["phone"],
                    "full_name": f"{v['first_name']} {v['last_name']}"[:200],
                    "role": Role.DRIVER,
                    "password_hash": NO_PASSWORD,
                    "locale": "es_MX",
                    "is_active": True,
                    "failed_logins": 0,
                    "created_at": now,
                }
                for _, v in chunk
            ],
        ).all()
        drivers = session.execute(
            insert(Driver).returning(Driver.id, sort_by_parameter_order=True),
            [
                v
                | {
                    "user_id": uid,
                    "status": DriverStatus.ACTIVE,
                    "platforms": [],
                    "created_by_id": actor_id,
                    "created_at": now,
                }
                for (uid,), (_, v) in zip(users, chunk, strict=True)
            ],
        ).all()
        ids += [(did, line) for (did,), (line, _) in zip(drivers, chunk, strict=True)]
    insert_audit(session, audit_rows(actor_id, "driver.imported", "drivers", ids, report.source))
