"""Charging as the portal sees it, by area: the charger registry (chargers, id tags,
CSV imports), energy prices, remote commands, bookings, the depot board and energy per
day, and a driver's charging.

What chargers *say* is written by the OCPP server through the engine's `charging.store`.
Import from the module of the area (there is no facade here).
"""
