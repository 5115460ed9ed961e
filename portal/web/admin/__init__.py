"""The administrator's home: users by role, depots, the latest audited changes."""

from portal.web.audiences import audience, feature

admin = audience("admin")
bp = feature("admin", admin)
