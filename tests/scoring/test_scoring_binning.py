import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.binning import fit_binning


def _risky(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x - 1.5)))).astype(int)
    return x, y


def _bad_rates(b):
    regular = slice(0, b.n_bins - 1)
    return b.bads[regular] / b.counts[regular]


def test_binning_finds_the_direction_and_woe_is_monotone():
    x, y = _risky()
    b = fit_binning("x", x, y)
    assert b.direction == "ascending"
    assert np.all(np.diff(_bad_rates(b)) > 0)
    assert np.all(np.diff(b.woe[:-1]) < 0)  # WoE = ln(good/bad): falls as risk rises
    assert b.iv > 0.3


def test_requested_direction_is_respected_even_against_the_data():
    x, y = _risky()
    b = fit_binning("x", x, y, direction="descending")
    assert np.all(np.diff(_bad_rates(b)) < 0)


def test_each_bin_holds_the_minimum_share_and_missing_has_its_own_bin():
    x, y = _risky()
    x[::10] = np.nan
    b = fit_binning("x", x, y, min_bin_share=0.1, max_bins=8)
    assert np.all(b.counts[:-1] >= 0.1 * len(x))
    assert b.labels[-1] == "sin dato"
    assert b.counts[-1] == np.isnan(x).sum()
    assert b.bin_index(np.array([np.nan]))[0] == b.missing_bin


def test_missing_never_seen_in_training_is_neutral():
    x, y = _risky()
    b = fit_binning("x", x, y)
    assert b.counts[-1] == 0
    assert b.transform(np.array([np.nan]))[0] == 0.0


def test_categories_are_grouped_by_default_rate_and_unseen_ones_go_to_missing():
    rng = np.random.default_rng(1)
    cats = rng.choice(["a", "b", "c", "d"], 4000)
    p = {"a": 0.05, "b": 0.06, "c": 0.3, "d": 0.31}
    y = (rng.random(4000) < np.vectorize(p.get)(cats)).astype(int)
    b = fit_binning("cat", cats.astype(object), y, kind="categorical")
    assert b.categories["a"] == b.categories["b"]
    assert b.categories["c"] == b.categories["d"]
    assert b.categories["a"] != b.categories["c"]
    assert b.bin_index(np.array(["zzz"], dtype=object))[0] == b.missing_bin


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    slope=st.floats(-3, 3),
    share=st.sampled_from([0.05, 0.1, 0.2]),
)
def test_bins_are_always_monotone_and_large_enough(seed, slope, share):
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=600), 1)
    y = (rng.random(600) < 1 / (1 + np.exp(-slope * x))).astype(int)
    b = fit_binning("x", x, y, min_bin_share=share)
    rates = _bad_rates(b)
    assert np.all(np.diff(rates) > 0) or np.all(np.diff(rates) < 0) or len(rates) == 1
    assert np.all(b.counts[:-1] >= share * len(x))
    assert b.counts.sum() == len(x)


@pytest.mark.parametrize("n_unique", [1, 3])
def test_few_distinct_values_still_bin(n_unique):
    x = np.arange(300) % n_unique
    y = (np.arange(300) % 4 == 0).astype(int)
    b = fit_binning("x", x.astype(float), y)
    assert b.counts.sum() == 300
