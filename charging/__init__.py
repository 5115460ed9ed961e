"""The charging engine: the OCPP server (CSMS), its command bus, and a charge point simulator.

Run `python -m charging.csms` (the server) and `python -m charging.simulate` (demo
chargers). Nothing here imports Flask; the database is reached through
`portal.models`, `portal.services` and `charging.store`.
"""
