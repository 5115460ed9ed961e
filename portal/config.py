"""Settings from the environment (12-factor); development defaults only on request.

`load_config()` reads `os.environ` once; `create_app(config)` overrides any key.
The development defaults (a known secret key, demo mode, the demo payment provider
and its public webhook secret) apply only with `LAFA_ENV=development`, which
`make run` and the tests set. Any other value, or none, is treated as production:
`check_production` refuses to start without real secrets (the web app, the OCPP
server and the telemetry processes all call it, through `checked_config`).
PostgreSQL, Redis and the MQTT broker default to their standard ports on localhost,
where `make run` starts embedded ones when nothing answers (portal/embedded.py).
An empty REDIS_URL runs jobs inside the calling process (the tests).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - only with LAFA_ENV=development
# Keys the chargers' password hashes (portal.passwords.hash_machine_secret). Kept out of
# the database; changing it invalidates every charger's password.
DEV_CHARGER_SECRET_KEY = "dev-only-charger-key"  # noqa: S105 - only with LAFA_ENV=development
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/lafa"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
# Signs the demonstration provider's webhooks when no STRIPE_WEBHOOK_SECRET is set;
# the demo provider exists only with LAFA_ENV=development, so this never guards money.
DEMO_WEBHOOK_SECRET = "whsec_demo_only_not_secret"  # noqa: S105
PAYMENT_PROVIDERS = ("conekta", "stripe", "demo", "")
SMS_PROVIDERS = ("twilio", "demo", "")
MB = 1024 * 1024


class ConfigError(RuntimeError):
    """The settings would make the portal unsafe or unable to start."""


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
    env = os.environ.get("LAFA_ENV", "production")
    development = env == "development"
    instance = instance_path()

    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    demo_mode = _flag("LAFA_DEMO", default=development)
    provider = os.environ.get("PAYMENTS_PROVIDER")
    if provider is None:
        if os.environ.get("CONEKTA_PRIVATE_KEY"):
            provider = "conekta"
        elif os.environ.get("STRIPE_API_KEY"):
            provider = "stripe"
        else:
            provider = "demo" if demo_mode else ""
    sms_provider = os.environ.get("SMS_PROVIDER")
    if sms_provider is None:
        sms_provider = "twilio" if os.environ.get("TWILIO_ACCOUNT_SID") else ""
        sms_provider = sms_provider or ("demo" if demo_mode else "")
    stripe_secret = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    if not stripe_secret and provider == "demo" and development:
        stripe_secret = DEMO_WEBHOOK_SECRET

    return {
        "ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET_KEY if development else ""),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        "REDIS_URL": redis_url,
        "MQTT_URL": os.environ.get("MQTT_URL") or DEFAULT_MQTT_URL,
        # Rate limits (portal/limits.py): the portal's Redis; in memory only without one.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI")
        or redis_url
        or "memory://",
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Proxies in front of the portal whose X-Forwarded-* headers are trusted (ProxyFix).
        "PROXY_HOPS": int(os.environ.get("LAFA_PROXY_HOPS", "0")),
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
        "SESSION_COOKIE_SECURE": not development,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": not development,
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
        # SMS (password reset codes): twilio, demo (the code shown on screen) or "" (off).
        "SMS_PROVIDER": sms_provider.strip().lower(),
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN", ""),
        # The sender: a Twilio number (+52…) or a Messaging Service SID (MG…).
        "TWILIO_FROM": os.environ.get("TWILIO_FROM", ""),
        # Contract PDFs and handover/return photos, content-addressed.
        "CONTRACT_STORAGE": os.environ.get("CONTRACT_STORAGE", str(instance / "contracts")),
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
        # Keys the chargers' password hashes (charging/csms.py reads its OCPP_* settings).
        "CHARGER_SECRET_KEY": os.environ.get("CHARGER_SECRET_KEY", DEV_CHARGER_SECRET_KEY),
        # Vehicle alerts (workers.telemetry.check_vehicle_alerts_job): no reading for this
        # long, and a state of charge under this while not charging.
        "TELEMETRY_SILENT_MINUTES": int(os.environ.get("TELEMETRY_SILENT_MINUTES", "30")),
        "TELEMETRY_LOW_SOC_PCT": int(os.environ.get("TELEMETRY_LOW_SOC_PCT", "20")),
        "TELEMETRY_REJECTS_KEEP_DAYS": int(os.environ.get("TELEMETRY_REJECTS_KEEP_DAYS", "30")),
    }


def check_production(config: dict[str, Any]) -> None:
    """Refuse settings that are only safe on a developer's machine, everywhere but
    `LAFA_ENV=development` (an unset or misspelt LAFA_ENV is production)."""
    if config["ENV"] == "development":
        return
    where = f"with LAFA_ENV={config['ENV']} (only LAFA_ENV=development has defaults)"
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == DEV_SECRET_KEY:
        raise ConfigError(f"SECRET_KEY must be set to a random value {where}")
    if len(config["SECRET_KEY"]) < 32:
        raise ConfigError(f"SECRET_KEY must be at least 32 characters {where}")
    if config.get("DEMO_MODE"):
        raise ConfigError(f"LAFA_DEMO must be off {where}")
    if config.get("PAYMENTS_PROVIDER") == "demo":
        raise ConfigError(f"PAYMENTS_PROVIDER=demo (demonstration mode) is refused {where}")
    if config.get("SMS_PROVIDER") == "demo":
        raise ConfigError(f"SMS_PROVIDER=demo (codes shown on screen) is refused {where}")
    if config.get("STRIPE_WEBHOOK_SECRET") == DEMO_WEBHOOK_SECRET:
        raise ConfigError(f"STRIPE_WEBHOOK_SECRET must not be the public demo secret {where}")
    key = config.get("CHARGER_SECRET_KEY") or ""
    if key == DEV_CHARGER_SECRET_KEY or len(key) < 32:
        raise ConfigError(f"CHARGER_SECRET_KEY must be a random value of 32+ characters {where}")


def checked_config() -> dict[str, Any]:
    """The settings, refused like the web app's: what the OCPP server and the telemetry
    processes call at start-up."""
    config = load_config()
    check_production(config)
    check_payments(config)
    return config


def check_payments(config: dict[str, Any]) -> None:
    """Refuse a payment provider named without the keys it needs."""
    provider = config.get("PAYMENTS_PROVIDER", "")
    if provider not in PAYMENT_PROVIDERS:
        raise ConfigError(f"PAYMENTS_PROVIDER must be one of conekta, stripe, demo: {provider!r}")
    if provider == "conekta" and not config.get("CONEKTA_PRIVATE_KEY"):
        raise ConfigError("PAYMENTS_PROVIDER=conekta needs CONEKTA_PRIVATE_KEY")
    if provider == "stripe" and not config.get("STRIPE_API_KEY"):
        raise ConfigError("PAYMENTS_PROVIDER=stripe needs STRIPE_API_KEY")
    sms = config.get("SMS_PROVIDER", "")
    if sms not in SMS_PROVIDERS:
        raise ConfigError(f"SMS_PROVIDER must be one of twilio, demo: {sms!r}")
    if sms == "twilio" and not all(
        config.get(k) for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
    ):
        raise ConfigError("SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID, _AUTH_TOKEN and _FROM")
