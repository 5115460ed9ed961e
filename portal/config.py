"""Settings from the environment (12-factor), with development defaults.

`load_config()` reads `os.environ` once; `create_app(config)` overrides any key.
The database, Redis and the MQTT broker are detected on localhost when their URLs
are not set: the portal uses them when they answer and otherwise falls back to an
embedded default (a SQLite file, jobs run in-process) and says so in the log.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused in production below
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/lafa"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Signs the demonstration provider's webhooks when no STRIPE_WEBHOOK_SECRET is set;
# the demo provider is refused in production, so this never guards real money.
DEMO_WEBHOOK_SECRET = "whsec_demo_only_not_secret"  # noqa: S105
PAYMENT_PROVIDERS = ("conekta", "stripe", "demo", "")
MB = 1024 * 1024


class ConfigError(RuntimeError):
    """The settings would make the portal unsafe or unable to start."""


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _flag(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def instance_path() -> Path:
    return Path(os.environ.get("LAFA_INSTANCE", ROOT / "instance"))


def incident_storage(instance: Path | None = None) -> str:
    """Where incident photos, documents and PDFs are kept (a folder, by checksum)."""
    return os.environ.get("INCIDENT_STORAGE", str((instance or instance_path()) / "incidents"))


def load_config() -> dict[str, Any]:
    env = os.environ.get("LAFA_ENV", "development")
    production = env == "production"
    instance = instance_path()

    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        if port_open("127.0.0.1", 5432):
            database_url = DEFAULT_DATABASE_URL
        else:
            database_url = f"sqlite:///{instance / 'lafa.sqlite3'}"
            log.warning("PostgreSQL not found on 127.0.0.1:5432; using %s", database_url)

    redis_url = os.environ.get("REDIS_URL")
    if redis_url is None:
        redis_url = DEFAULT_REDIS_URL if port_open("127.0.0.1", 6379) else ""
        if not redis_url:
            log.warning("Redis not found on 127.0.0.1:6379; jobs run in-process")

    mqtt_url = os.environ.get("MQTT_URL")
    if mqtt_url is None:
        mqtt_url = "mqtt://127.0.0.1:1883" if port_open("127.0.0.1", 1883) else ""

    demo_mode = _flag("LAFA_DEMO", default=not production)
    provider = os.environ.get("PAYMENTS_PROVIDER")
    if provider is None:
        if os.environ.get("CONEKTA_PRIVATE_KEY"):
            provider = "conekta"
        elif os.environ.get("STRIPE_API_KEY"):
            provider = "stripe"
        else:
            provider = "demo" if demo_mode else ""
    stripe_secret = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    if not stripe_secret and provider == "demo":
        stripe_secret = DEMO_WEBHOOK_SECRET

    return {
        "ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET_KEY),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MQTT_URL": mqtt_url,
        "INSTANCE_PATH": str(instance),
        "STATEMENTS_DIR": os.environ.get("LAFA_STATEMENTS_DIR", str(instance / "statements")),
        # Credit model directories (`python -m scoring train --out`, `flask credit ...`).
        "CREDIT_MODELS_DIR": os.environ.get("CREDIT_MODELS_DIR", str(instance / "models")),
        "DEMO_MODE": demo_mode,
        "TIMEZONE": os.environ.get("LAFA_TIMEZONE", "America/Mexico_City"),
        "BABEL_DEFAULT_LOCALE": "es_MX",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "LANGUAGES": ("es_MX", "en"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        # Every request body is capped at 16 MB; views marked with
        # `security.allow_large_uploads` (incident photos) get UPLOAD_MAX_CONTENT_LENGTH,
        # enough for INCIDENT_MAX_FILES files of INCIDENT_MAX_FILE_BYTES each.
        "MAX_CONTENT_LENGTH": 16 * MB,
        "UPLOAD_MAX_CONTENT_LENGTH": 8 * 10 * MB + MB,
        "INCIDENT_STORAGE": incident_storage(instance),
        "INCIDENT_MAX_FILE_BYTES": 10 * MB,
        "INCIDENT_MAX_FILES": 8,
        "LOGIN_MAX_FAILURES": int(os.environ.get("LOGIN_MAX_FAILURES", "5")),
        "LOGIN_LOCKOUT_MINUTES": int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")),
        "PAGE_SIZE": 25,
        # Payments: conekta, stripe, demo (the labelled demonstration mode) or "" (off).
        "PAYMENTS_PROVIDER": provider.strip().lower(),
        "CONEKTA_PRIVATE_KEY": os.environ.get("CONEKTA_PRIVATE_KEY", ""),
        # PEM; a one-line value may carry literal "\\n" for its line breaks.
        "CONEKTA_WEBHOOK_PUBLIC_KEY": os.environ.get("CONEKTA_WEBHOOK_PUBLIC_KEY", "").replace(
            "\\n", "\n"
        ),
        "STRIPE_API_KEY": os.environ.get("STRIPE_API_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": stripe_secret,
        "PAYMENTS_OXXO_DAYS": int(os.environ.get("PAYMENTS_OXXO_DAYS", "3")),
        # Sent to the provider as the payer's e-mail when a driver has none on file.
        "PAYMENTS_CONTACT_EMAIL": os.environ.get("PAYMENTS_CONTACT_EMAIL", "cobranza@lafa.mx"),
        # The company on statements. The defaults are demonstration values, not LAFA's.
        "COMPANY_NAME": os.environ.get(
            "LAFA_COMPANY_NAME", "LAFA Movilidad Eléctrica, S.A.P.I. de C.V."
        ),
        "COMPANY_RFC": os.environ.get("LAFA_COMPANY_RFC", "LME210115DE0"),
        "COMPANY_ADDRESS": os.environ.get(
            "LAFA_COMPANY_ADDRESS",
            "Calz. Vallejo 1090, Industrial Vallejo, Azcapotzalco, 02300 CDMX",
        ),
        # A slippy-map tile URL ({z}/{x}/{y}) for the fleet map; empty: a schematic map.
        "MAP_TILE_URL": os.environ.get("MAP_TILE_URL", ""),
        # The credit the tile server asks for, shown under the map (OpenStreetMap's
        # tiles: "© OpenStreetMap contributors").
        "MAP_TILE_ATTRIBUTION": os.environ.get("MAP_TILE_ATTRIBUTION", ""),
        # Charging bookings (portal.services.charging.bookings.rules_from_config).
        "BOOKING_SLOT_MINUTES": int(os.environ.get("BOOKING_SLOT_MINUTES", "60")),
        "BOOKING_OPEN_HOUR": int(os.environ.get("BOOKING_OPEN_HOUR", "6")),
        "BOOKING_CLOSE_HOUR": int(os.environ.get("BOOKING_CLOSE_HOUR", "23")),
        "BOOKING_MAX_FUTURE": int(os.environ.get("BOOKING_MAX_FUTURE", "2")),
        "BOOKING_MAX_PER_DAY": int(os.environ.get("BOOKING_MAX_PER_DAY", "1")),
        "BOOKING_NO_SHOW_GRACE_MINUTES": int(os.environ.get("BOOKING_NO_SHOW_GRACE_MINUTES", "15")),
        # How long the `ocpp` job waits for the charger's answer (seconds).
        "OCPP_COMMAND_TIMEOUT": float(os.environ.get("OCPP_COMMAND_TIMEOUT", "35")),
        # Vehicle alerts (workers.telemetry.check_vehicle_alerts_job): no reading for this
        # long, and a state of charge under this while not charging.
        "TELEMETRY_SILENT_MINUTES": int(os.environ.get("TELEMETRY_SILENT_MINUTES", "30")),
        "TELEMETRY_LOW_SOC_PCT": int(os.environ.get("TELEMETRY_LOW_SOC_PCT", "20")),
    }


def check_production(config: dict[str, Any]) -> None:
    """Refuse settings that are only safe on a developer's machine."""
    if config["ENV"] != "production":
        return
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == DEV_SECRET_KEY:
        raise ConfigError("SECRET_KEY must be set to a random value in production")
    if len(config["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters in production")
    if config.get("DEMO_MODE"):
        raise ConfigError("LAFA_DEMO must be off in production")
    if config.get("PAYMENTS_PROVIDER") == "demo":
        raise ConfigError("PAYMENTS_PROVIDER=demo (demonstration mode) is refused in production")


def check_payments(config: dict[str, Any]) -> None:
    """Refuse a payment provider named without the keys it needs."""
    provider = config.get("PAYMENTS_PROVIDER", "")
    if provider not in PAYMENT_PROVIDERS:
        raise ConfigError(f"PAYMENTS_PROVIDER must be one of conekta, stripe, demo: {provider!r}")
    if provider == "conekta" and not config.get("CONEKTA_PRIVATE_KEY"):
        raise ConfigError("PAYMENTS_PROVIDER=conekta needs CONEKTA_PRIVATE_KEY")
    if provider == "stripe" and not config.get("STRIPE_API_KEY"):
        raise ConfigError("PAYMENTS_PROVIDER=stripe needs STRIPE_API_KEY")
