"""Credit: the applications desk (staff), the policy cut-offs (managers), the model
registry (admins), and the applicant's own application (public, no log-in)."""

from flask import Blueprint

from portal.web.audiences import audience, feature

staff = audience("staff", "/credito")
manager = audience("manager", "/credito")
admin = audience("admin", "/modelos")
applicant = Blueprint("applicant", __name__, url_prefix="/solicitud")  # anyone, a phone
bp = feature("credit", staff, manager, admin, applicant)
