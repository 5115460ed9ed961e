"""Battery health across the fleet (managers, a desktop): the distribution of state of
health, fade by model and by share of fast charging, the cars to watch. A car's own
battery is on its vehicle page and on its driver's contract page
(`portal.web.battery_health`)."""

from portal.web.audiences import audience, feature

manager = audience("manager")
bp = feature("battery", manager)
