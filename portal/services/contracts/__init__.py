"""A contract's life, from the proposal to the car passing to the driver.

    draft ─(manager's sign-off when the terms differ from the credit decision's)─►
    signed (the security deposit is charged; the car is leased to the driver) ─(the
    handover checklist, confirmed by the driver on their phone)─► active ⇄ suspended
    ─► completed (the car is transferred) | terminated early (the return checklist;
    damage becomes an incident and its liability; the deposit is credited back)

A draft can be cancelled. While the contract's car is in repair a replacement can be
lent (`running.swap_vehicle`) and given back (`running.return_own_vehicle`), same
contract. Every step is audited on the contract; the audit log is its timeline
(`reads.timeline`).

Its modules, by area: `signing` (the terms, the proposal, the sign-off, cancelling a
draft, signing), `checklists` (the handover and its confirmation; what the return
checklist shares with it), `running` (a replacement car, suspend and resume), `ending`
(terminate early, complete), `reads` (what the pages and documents show), `documents`
(the PDFs and the checklists' photos) and `rules` (what every step checks). Callers
import the module they need (there is no facade here).
"""
