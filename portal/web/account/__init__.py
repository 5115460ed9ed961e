"""A driver's money: their home page, statements and movements (the driver, a phone);
collections, a driver's account, cash received and reversals (staff, a tablet)."""

from portal.web.audiences import audience, feature

driver = audience("driver")
staff = audience("staff")
bp = feature("account", driver, staff)
