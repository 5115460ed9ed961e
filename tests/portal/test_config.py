import pytest

from portal.app import create_app
from portal.config import (
    DEMO_WEBHOOK_SECRET,
    DEV_CHARGER_SECRET_KEY,
    DEV_SECRET_KEY,
    ConfigError,
    check_production,
    load_config,
)


def test_production_refuses_the_default_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        check_production({"ENV": "production", "SECRET_KEY": DEV_SECRET_KEY, "DEMO_MODE": False})


def test_production_refuses_demo_mode():
    with pytest.raises(ConfigError, match="LAFA_DEMO"):
        check_production({"ENV": "production", "SECRET_KEY": "x" * 40, "DEMO_MODE": True})


def test_production_refuses_the_default_charger_key():
    config = {"ENV": "production", "SECRET_KEY": "x" * 40, "DEMO_MODE": False}
    with pytest.raises(ConfigError, match="CHARGER_SECRET_KEY"):
        check_production(config | {"CHARGER_SECRET_KEY": DEV_CHARGER_SECRET_KEY})
    with pytest.raises(ConfigError, match="CHARGER_SECRET_KEY"):
        check_production(config | {"CHARGER_SECRET_KEY": "short"})
    check_production(config | {"CHARGER_SECRET_KEY": "k" * 32})


def test_create_app_refuses_to_start_in_production_with_defaults(monkeypatch):
    monkeypatch.setenv("LAFA_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        create_app()


def test_production_cookies_are_secure(monkeypatch):
    monkeypatch.setenv("LAFA_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("CHARGER_SECRET_KEY", "c" * 48)
    config = load_config()
    check_production(config)
    assert config["SESSION_COOKIE_SECURE"]
    assert config["REMEMBER_COOKIE_SECURE"]
    assert config["SESSION_COOKIE_HTTPONLY"]
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert not config["DEMO_MODE"]


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://lafa@db.internal:5432/lafa")
    monkeypatch.setenv("REDIS_URL", "")
    config = load_config()
    assert config["DATABASE_URL"] == "postgresql+psycopg://lafa@db.internal:5432/lafa"
    assert config["REDIS_URL"] == ""  # jobs inside the process
    assert config["BABEL_DEFAULT_LOCALE"] == "es_MX"


def test_services_default_to_localhost_whether_or_not_they_answer(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "MQTT_URL"):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert config["DATABASE_URL"] == "postgresql+psycopg://postgres@127.0.0.1:5432/lafa"
    assert config["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert config["MQTT_URL"] == "mqtt://127.0.0.1:1883"


@pytest.mark.parametrize("env", [None, "staging", "prod", "Development"])
def test_without_an_explicit_development_there_are_no_development_defaults(monkeypatch, env):
    if env is None:
        monkeypatch.delenv("LAFA_ENV")
    else:
        monkeypatch.setenv("LAFA_ENV", env)
    for name in ("SECRET_KEY", "LAFA_DEMO", "PAYMENTS_PROVIDER", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert config["SECRET_KEY"] != DEV_SECRET_KEY
    assert not config["DEMO_MODE"]
    assert config["PAYMENTS_PROVIDER"] != "demo"
    assert config["STRIPE_WEBHOOK_SECRET"] != DEMO_WEBHOOK_SECRET
    assert config["SESSION_COOKIE_SECURE"]
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({})


def test_demo_mode_outside_development_is_refused_even_when_asked_for(monkeypatch):
    monkeypatch.setenv("LAFA_ENV", "staging")
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("LAFA_DEMO", "1")
    with pytest.raises(ConfigError, match="LAFA_DEMO"):
        create_app({})
    monkeypatch.setenv("LAFA_DEMO", "0")
    monkeypatch.setenv("PAYMENTS_PROVIDER", "demo")
    with pytest.raises(ConfigError, match="demo"):
        create_app({})


def test_development_keeps_its_defaults(monkeypatch):
    monkeypatch.setenv("LAFA_ENV", "development")
    for name in ("SECRET_KEY", "LAFA_DEMO", "PAYMENTS_PROVIDER", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert config["SECRET_KEY"] == DEV_SECRET_KEY
    assert config["DEMO_MODE"]
    assert config["PAYMENTS_PROVIDER"] == "demo"
    assert config["STRIPE_WEBHOOK_SECRET"] == DEMO_WEBHOOK_SECRET
    check_production(config)


def test_the_ocpp_server_and_the_telemetry_processes_refuse_to_start_too(monkeypatch):
    from charging.csms import Settings
    from telemetry.__main__ import main as telemetry_main

    monkeypatch.delenv("LAFA_ENV")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env()
    for command in ("listen", "gateway"):
        with pytest.raises(ConfigError, match="SECRET_KEY"):
            telemetry_main([command])
