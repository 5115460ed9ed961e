"""Fixtures shared by the web layer's tests."""

import pytest


@pytest.fixture
def owing_driver(make_contract, make_charge):
    contract = make_contract()
    make_charge(contract.driver, 350_000, contract_id=contract.id)
    return contract.driver
