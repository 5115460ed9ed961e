"""Charging: the driver books a slot and starts and stops a session (phone); the staff's
charger board and commands (tablet); energy per depot (managers); the charger registry
and drivers' cards (admins)."""

from portal.web.audiences import audience, feature

driver = audience("driver", "/cargar")
staff = audience("staff", "/cargadores")
manager = audience("manager")
admin = audience("admin")
bp = feature("charging", driver, staff, manager, admin)
