import pytest

from portal.app import create_app
from portal.config import (
    DEMO_WEBHOOK_SECRET,
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


def test_create_app_refuses_to_start_in_production_with_defaults(monkeypatch):
    monkeypatch.setenv("LAFA_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        create_app()


def test_production_cookies_are_secure(monkeypatch):
    monkeypatch.setenv("LAFA_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    config = load_config()
    check_production(config)
    assert config["SESSION_COOKIE_SECURE"]
    assert config["REMEMBER_COOKIE_SECURE"]
    assert config["SESSION_COOKIE_HTTPONLY"]
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert not config["DEMO_MODE"]


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/x.sqlite3")
    monkeypatch.setenv("REDIS_URL", "")
    config = load_config()
    assert config["DATABASE_URL"] == "sqlite:////tmp/x.sqlite3"
    assert config["REDIS_URL"] == ""
    assert config["BABEL_DEFAULT_LOCALE"] == "es_MX"


def test_falls_back_to_sqlite_when_postgresql_does_not_answer(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("LAFA_INSTANCE", str(tmp_path))
    monkeypatch.setattr("portal.config.port_open", lambda host, port, timeout=0.3: False)
    config = load_config()
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'lafa.sqlite3'}"
    assert config["REDIS_URL"] == ""


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
        create_app({"SKIP_DB_CONFIGURE": True})


def test_demo_mode_outside_development_is_refused_even_when_asked_for(monkeypatch):
    monkeypatch.setenv("LAFA_ENV", "staging")
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("LAFA_DEMO", "1")
    with pytest.raises(ConfigError, match="LAFA_DEMO"):
        create_app({"SKIP_DB_CONFIGURE": True})
    monkeypatch.setenv("LAFA_DEMO", "0")
    monkeypatch.setenv("PAYMENTS_PROVIDER", "demo")
    with pytest.raises(ConfigError, match="demo"):
        create_app({"SKIP_DB_CONFIGURE": True})


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
