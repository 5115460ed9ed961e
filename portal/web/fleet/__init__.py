"""The live fleet (staff, a tablet): the fleet list, the board with its map, a
vehicle's page. (Vehicle records are edited elsewhere.)"""

from portal.web.audiences import audience, feature

staff = audience("staff")
bp = feature("fleet", staff)
