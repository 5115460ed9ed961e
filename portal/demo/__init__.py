"""The demo data set (`flask seed-demo`): deterministic, idempotent, no Flask. Only the
demo (and its tests) import it. `seed.seed_demo` is the entry point; the other modules
add one area each (incidents, ledger history, payments, credit, charging, bookings, the
activity history).
"""
