"""The account summary (`driver_balances`) equals the ledger's live computation after
every kind of posting, and stays right when two transactions post for one driver."""

from __future__ import annotations

import importlib.util
import random
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session as OrmSession

from portal.config import ROOT
from portal.demo.seed import seed_demo
from portal.models import Driver, DriverBalance, EntryKind, LedgerEntry, Role, User
from portal.models.ledger import CHARGES
from portal.services import balances
from portal.services.billing import assess_late_fees, insert_entries, post_weekly_rent
from portal.services.collections import list_collections
from portal.services.kpis.collections import collections_summary
from portal.services.ledger import post_entry, reverse_entry
from portal.timeutil import monday_of

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
TODAY = date(2026, 11, 25)


def stored(db) -> set[tuple]:
    return {tuple(r) for r in db.execute(balances.stored_accounts())}


def live(db) -> set[tuple]:
    return {tuple(r) for r in db.execute(balances.live_accounts())}


def assert_summary_matches_ledger(db) -> None:
    assert stored(db) == live(db)
    for kw in ({}, {"owing_only": False}, {"min_days": 8}):
        page = list_collections(db, TODAY, per_page=500, **kw)
        assert page == list_collections(db, TODAY, per_page=500, live=True, **kw)
    start = TODAY - timedelta(days=27)
    assert collections_summary(db, start, TODAY, None) == collections_summary(
        db, start, TODAY, None, live=True
    )


@pytest.mark.parametrize("seed", range(8))
def test_random_postings_payments_reversals_keep_the_summary_equal_to_the_ledger(
    db, make_contract, make_user, seed
):
    rng = random.Random(seed)
    manager = make_user(Role.MANAGER)
    contracts = [make_contract() for _ in range(3)]
    charges = sorted(CHARGES - {EntryKind.LATE_FEE})
    posted: list[LedgerEntry] = []
    for n in range(30):
        contract = rng.choice(contracts)
        at = NOW - timedelta(days=rng.randint(0, 70), minutes=rng.randint(0, 1440))
        action = rng.random()
        if action < 0.4:
            kind, cents = rng.choice(charges), rng.randint(1, 400_000)
        elif action < 0.7:
            kind, cents = EntryKind.PAYMENT, -rng.randint(1, 500_000)
        elif action < 0.8:
            kind, cents = EntryKind.ADJUSTMENT, rng.choice((-1, 1)) * rng.randint(1, 100_000)
        elif action < 0.9 and posted:
            target = rng.choice(posted)
            if target.kind != EntryKind.REVERSAL:
                posted.append(
                    reverse_entry(db, target.id, reason="error de captura", actor_id=manager.id)
                )
            assert_summary_matches_ledger(db)
            continue
        else:  # a bulk posting (rent for every contract), as the jobs and the demo do
            insert_entries(
                db,
                [
                    {
                        "driver_id": c.driver_id,
                        "contract_id": c.id,
                        "kind": EntryKind.RENT,
                        "amount_cents": c.weekly_rent_cents,
                        "posted_at": at,
                        "idempotency_key": f"bulk:{seed}:{n}:{c.id}",
                        "description": "Renta",
                    }
                    for c in contracts
                ],
            )
            assert_summary_matches_ledger(db)
            continue
        posted.append(
            post_entry(
                db,
                driver_id=contract.driver_id,
                contract_id=contract.id,
                kind=kind,
                amount_cents=cents,
                idempotency_key=f"random:{seed}:{n}",
                description="x",
                posted_at=at,
            )
        )
        assert_summary_matches_ledger(db)


def test_weekly_rent_and_late_fees_keep_the_summary_equal_to_the_ledger(db, make_contract):
    contract = make_contract(starts_on=TODAY - timedelta(weeks=6), grace_days=2)
    monday = monday_of(TODAY)
    for weeks_ago in range(5, 0, -1):
        post_weekly_rent(db, monday - timedelta(weeks=weeks_ago), now=NOW)
    assert_summary_matches_ledger(db)
    assert assess_late_fees(db, TODAY, now=NOW) > 0
    assert_summary_matches_ledger(db)
    row = db.get(DriverBalance, contract.driver_id)
    assert row is not None
    assert row.balance_cents > 0
    assert row.oldest_unpaid_at is not None


def test_the_demo_seed_keeps_the_summary_equal_to_the_ledger(db):
    seed_demo(db, vehicles=40, today=TODAY)
    assert db.scalar(select(DriverBalance.driver_id).limit(1)) is not None
    assert_summary_matches_ledger(db)


def test_the_nightly_repair_finds_and_fixes_a_summary_out_of_step(db, make_contract):
    contract = make_contract(starts_on=TODAY - timedelta(weeks=3))
    post_weekly_rent(db, monday_of(TODAY) - timedelta(weeks=1), now=NOW)
    assert balances.repair(db) == []
    # A charge written straight into the ledger, past `refresh` (as a hand-made SQL fix would).
    db.add(
        LedgerEntry(
            driver_id=contract.driver_id,
            contract_id=contract.id,
            kind=EntryKind.FINE,
            amount_cents=45_000,
            idempotency_key="by-hand",
            description="Multa capturada a mano",
            posted_at=NOW,
        )
    )
    db.flush()
    assert stored(db) != live(db)
    assert balances.repair(db) == [contract.driver_id]
    assert_summary_matches_ledger(db)


def test_the_migration_backfill_computes_the_same_summary(db, make_contract):
    path = ROOT / "migrations" / "versions" / "0015_driver_balances.py"
    spec = importlib.util.spec_from_file_location("migration_0015", path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    seed_demo(db, vehicles=20, today=TODAY)
    expected = stored(db)
    db.execute(delete(DriverBalance))
    db.execute(text(migration.BACKFILL))
    assert stored(db) == expected == live(db)


@pytest.fixture
def committed_driver(engine):
    """A driver committed outside the test's transaction, removed afterwards."""
    with OrmSession(engine) as session:
        user = User(
            full_name="Concurrencia Prueba", role=Role.DRIVER, phone="5599990001", password_hash="!"
        )
        driver = Driver(
            user=user,
            first_name="Concurrencia",
            last_name="Prueba",
            curp="PUPC900517HDFRRN09",
            phone="5599990001",
        )
        session.add(driver)
        session.commit()
        driver_id, user_id = driver.id, user.id
    yield driver_id
    with OrmSession(engine) as session:
        session.execute(delete(DriverBalance).where(DriverBalance.driver_id == driver_id))
        session.execute(delete(LedgerEntry).where(LedgerEntry.driver_id == driver_id))
        session.execute(delete(Driver).where(Driver.id == driver_id))
        session.execute(delete(User).where(User.id == user_id))
        session.commit()


def _charge(session, driver_id: int, key: str, cents: int, days_ago: int) -> None:
    post_entry(
        session,
        driver_id=driver_id,
        kind=EntryKind.RENT,
        amount_cents=cents,
        idempotency_key=key,
        description="Renta",
        posted_at=NOW - timedelta(days=days_ago),
    )


def test_two_transactions_posting_for_one_driver_leave_a_correct_summary(engine, committed_driver):
    with OrmSession(engine) as session:  # the summary row exists and is committed
        _charge(session, committed_driver, "race:before", 30_000, 40)
        session.commit()
    first, second = OrmSession(engine), OrmSession(engine)
    try:
        _charge(first, committed_driver, "race:first", 100_000, 20)  # holds the row lock
        waiting_pid = second.scalar(text("SELECT pg_backend_pid()"))
        done = threading.Event()

        def post_second() -> None:
            _charge(second, committed_driver, "race:second", 50_000, 3)
            second.commit()
            done.set()

        thread = threading.Thread(target=post_second)
        thread.start()
        with engine.connect() as watcher:  # wait until the second waits on the lock
            while not done.is_set():
                event = watcher.scalar(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": waiting_pid},
                )
                if event == "Lock":
                    break
                watcher.rollback()
        first.commit()
        thread.join()
    finally:
        first.close()
        second.close()
    with OrmSession(engine) as session:
        row = session.get(DriverBalance, committed_driver)
        assert row is not None
        assert row.balance_cents == 180_000
        assert row.oldest_unpaid_at == NOW - timedelta(days=40)
        assert stored(session) == live(session)
