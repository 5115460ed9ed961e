"""Charging's routes, a module per audience (the feature serves all four)."""

from . import admin_views, driver_views, manager_views, staff_views  # noqa: F401 - their routes
