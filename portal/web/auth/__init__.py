"""Log-in, log-out, password change and the language switch (everyone; no audience)."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
