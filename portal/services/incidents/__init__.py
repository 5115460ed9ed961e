"""Incidents and insurance claims: reporting, the workflow, the timeline, the car's
status, attachments and what the driver owes for it (through the ledger).

The workflow is `TRANSITIONS`: reported → in review → claim filed → in repair →
closed, with shortcuts where the business has them (a breakdown without a claim goes
from review straight to repair or to closed) and rejected/cancelled from any open
state. Every change and comment becomes an `IncidentEvent` with its author; every
staff write is audited as well.

Its modules, by area: `reads` (one incident, a driver's, the staff list), `report`
(the driver reports), `attachments` (photos and documents), `claims` (the workflow,
the insurer's data, comments, the insurer's PDF), `costs` (what the driver owes) and
`timeline` (the events and the lookup they share). Callers import the module they need.
"""
