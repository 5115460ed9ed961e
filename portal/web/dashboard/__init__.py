"""The managers' dashboard (desktop): their home with the fleet and contracts by depot,
and the KPI panels with their charts and CSV."""

from portal.web.audiences import audience, feature

manager = audience("manager")
bp = feature("dashboard", manager)
