"""The driver pays online (phone): an OXXO cash reference, their SPEI CLABE, the
history of their payments. Cash at the depot is on a driver's account (account)."""

from portal.web.audiences import audience, feature

driver = audience("driver")
bp = feature("payments", driver)
