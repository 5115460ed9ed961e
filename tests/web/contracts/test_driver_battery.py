"""The driver's contract page (a phone) shows their car's battery health: it is becoming
their car. Only their own car, and only while it is theirs."""

import pytest

from portal.models import ContractStatus


def _card(html):
    return html[html.index('id="battery"') :]


def test_the_driver_sees_their_cars_battery_health(client, login, make_contract, store_estimates):
    mine, theirs = make_contract(), make_contract()
    store_estimates(
        {
            mine.vehicle: {},
            theirs.vehicle: {"soh_percent": 83.7, "soh_low": 82.0, "soh_high": 85.1},
        }
    )
    login(mine.driver.user)
    page = client.get("/conductor/contrato").text
    card = _card(page)
    assert "La salud de tu batería" in card
    assert '<span class="battery-value">96</span>' in card
    assert "alrededor de 37.4 de 38.8 kWh" in card
    assert "Estado de salud 96.4% (banda de 95%: 95.1% a 97.3%)" in card  # the gauge
    assert "Pierde alrededor de 2.1% de su capacidad al año." in card
    assert "Un auto típico de la flota pierde 2.1%." in card
    assert "Con 131 de tus cargas, hasta el 28 de junio de 2026." in card
    assert "Estado de salud por mes" in card
    # Only their own car: another driver's car and its figures never show.
    assert "83.7" not in page
    assert theirs.vehicle.plate not in page


def test_the_driver_is_told_when_their_battery_cannot_be_estimated_yet(
    client, login, make_contract
):
    contract = make_contract()
    login(contract.driver.user)
    card = _card(client.get("/conductor/contrato").text)
    assert "Aún no podemos estimar la salud de tu batería." in card
    assert "Hacen falta al menos 8 cargas en el depósito" in card
    assert "<svg" not in card


def test_the_driver_is_told_when_their_battery_is_worn_or_fading_fast(
    client, login, make_contract, store_estimates
):
    contract = make_contract()
    store_estimates({contract.vehicle: {"soh_percent": 84.0, "alerts": ("low_soh", "fast_fade")}})
    login(contract.driver.user)
    card = _card(client.get("/conductor/contrato").text)
    assert "Tu batería conserva menos de 85% de su capacidad original." in card
    assert "Se está degradando más rápido que los autos de la flota." in card


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        (ContractStatus.SIGNED, True),
        (ContractStatus.SUSPENDED, True),
        (ContractStatus.COMPLETED, True),  # the car passed to the driver
        (ContractStatus.TERMINATED, False),  # ended early: the car went back
    ],
)
def test_the_battery_shows_while_the_car_is_the_drivers(
    client, login, make_contract, store_estimates, status, shown
):
    contract = make_contract(status=status)
    store_estimates({contract.vehicle: {}})
    login(contract.driver.user)
    page = client.get("/conductor/contrato").text
    assert ("La salud de tu batería" in page) is shown
