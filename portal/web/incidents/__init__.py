"""Incidents: the driver's report and their incidents (phone), the staff's queue and
incident page (tablet), the manager's liability actions (desktop), all under
`…/incidentes`."""

from portal.web.audiences import audience, feature

driver = audience("driver", "/incidentes")
staff = audience("staff", "/incidentes")
manager = audience("manager", "/incidentes")
bp = feature("incidents", driver, staff, manager)
