"""The managers' fleet battery page: the distribution of state of health, fade by model
and by share of fast charging, the cars to watch linked to their vehicle pages, the
estimates' date; and what it says before any estimate."""

import re

from portal.models import Role


def test_the_fleet_battery_page_shows_the_distribution_and_the_cars_to_watch(
    client, login, make_user, make_depot, make_vehicle, store_estimates
):
    depot = make_depot(name="Depósito Vallejo")
    cars = [make_vehicle(depot=depot, plate=f"BAT-{i:03d}-A") for i in range(12)]
    worn = make_vehicle(depot=depot, plate="BAT-LOW-A")
    fast = make_vehicle(depot=depot, plate="BAT-DC-A", model="Seal")
    waiting = make_vehicle(depot=depot, plate="BAT-NEW-A")
    store_estimates(
        {
            **{car: {"soh_percent": 95.0 + i * 0.2} for i, car in enumerate(cars)},
            worn: {"soh_percent": 83.9, "soh_low": 82.7, "soh_high": 85.0, "alerts": ("low_soh",)},
            fast: {"fade_percent_per_year": 4.2, "dc_share": 0.8, "alerts": ("fast_fade",)},
            waiting: {"soh_percent": None, "fade_percent_per_year": None, "sessions_used": 0},
        }
    )
    login(make_user(Role.MANAGER))

    page = client.get("/gerencia/bateria").text

    assert "Salud de la batería" in page
    assert "Estimado el" in page
    assert "Autos por estado de salud" in page  # the histogram
    assert "Degradación por modelo" in page
    assert "Degradación por proporción de carga rápida" in page
    # Cars to watch: the two with an alert first, linked to their vehicle pages.
    watch = page[page.index("Autos a vigilar") :]
    plates = re.findall(r'vehiculos/(\d+)#battery">([^<]+)<', watch)
    assert [plate for _id, plate in plates[:2]] == ["BAT-LOW-A", "BAT-DC-A"]
    assert plates[0][0] == str(worn.id)
    assert "BAT-NEW-A" not in watch  # nothing to watch yet: counted as waiting
    fast_row = watch[watch.index("BAT-DC-A") : watch.index("</tr>", watch.index("BAT-DC-A"))]
    assert "4.2%" in fast_row  # its fade a year
    assert ">80%<" in fast_row  # its share of sessions on DC
    assert "Menos de 85%" in watch
    assert "Degradación rápida" in watch


def test_fade_is_grouped_by_model_and_by_share_of_fast_charging(
    client, login, make_user, make_vehicle, store_estimates
):
    dolphins = [make_vehicle() for _ in range(3)]
    seal = make_vehicle(model="Seal", battery_kwh=82.5)
    store_estimates(
        {
            dolphins[0]: {"fade_percent_per_year": 1.8, "dc_share": 0.05},
            dolphins[1]: {"fade_percent_per_year": 2.2, "dc_share": 0.2},
            dolphins[2]: {"fade_percent_per_year": 3.1, "dc_share": 0.9},
            seal: {"fade_percent_per_year": 2.6, "dc_share": 0.3},
        }
    )
    login(make_user(Role.MANAGER))
    page = client.get("/gerencia/bateria").text
    # by model: the mean of each model's cars, in the chart and its table
    assert "BYD Dolphin Mini: 2.4% al año, 3 autos" in page
    assert "BYD Seal: 2.6% al año, 1 auto" in page
    # by share of DC sessions: four groups, empty ones said so
    assert "0% a 25%: 2.0% al año, 2 autos" in page
    assert "25% a 50%: 2.6% al año, 1 auto" in page
    assert "50% a 75%: sin autos" in page
    assert "75% a 100%: 3.1% al año, 1 auto" in page
    # the fleet's: the median (2.2 and 2.6 -> 2.4) and the mean (2.425)
    assert '<p class="stat-value">2.4%</p>' in page
    assert "Degradación de la flota al año: mediana (promedio 2.4%)" in page


def test_before_any_estimate_the_page_says_how_they_come(client, login, make_user):
    login(make_user(Role.MANAGER))
    page = client.get("/gerencia/bateria").text
    assert "Aún no hay estimaciones de batería" in page
    assert "Las estimaciones se calculan cada noche" in page
    assert "al menos 8 cargas en el depósito" in page


def test_the_managers_home_links_to_the_battery_page(client, login, make_user):
    login(make_user(Role.MANAGER))
    assert 'href="/gerencia/bateria"' in client.get("/gerencia/").text
