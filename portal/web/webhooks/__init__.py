"""Payment providers' webhooks under /webhooks: no log-in and no CSRF token (the only
blueprint exempt from CSRF); the provider's signature is the authentication."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
