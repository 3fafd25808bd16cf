"""``leadloop simulate`` through the real pipeline and registry, in a tiny world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadloop.cli import app
from leadloop.data.score_log import read_score_log
from leadloop.data.store import FeedbackStore
from leadloop.pipeline.simulate import arm_settings, simulate
from leadloop.simulation import Simulation, SimulationResult, World
from leadloop.tracking import ModelRegistry

TINY = Simulation(world=World(leads_per_month=300, seed=1), months=2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulationResult, Path]:
    root = tmp_path_factory.mktemp("simulate")
    return simulate(TINY, workdir=root), root


def test_every_arm_runs_the_real_loop(tiny: tuple[SimulationResult, Path]) -> None:
    """It retrains each arm monthly in its own MLflow registry, with a champion alias."""
    result, root = tiny
    for arm in TINY.arms:
        settings = arm_settings(root / arm, TINY, arm=arm)
        registry = ModelRegistry(settings)
        champion = registry.alias_version("champion")
        assert champion is not None
        assert champion == [m for m in result.months if m.arm == arm][-1].champion
        assert len(list((root / arm / "reports").iterdir())) >= TINY.months


def test_unworked_leads_never_convert(tiny: tuple[SimulationResult, Path]) -> None:
    """It counts conversions only among the leads sales worked, capacity at most."""
    result, _ = tiny
    for month in result.months:
        assert month.worked == int(TINY.capacity * TINY.world.leads_per_month)
        assert 0 <= month.conversions <= month.worked
        assert 0.5 < month.true_auc < 1.0


def test_exploration_gives_every_lead_a_chance(tiny: tuple[SimulationResult, Path]) -> None:
    """It logs every score of the exploration arm with a non-zero propensity, and works some
    exploration picks; the other arms work the top capacity alone."""
    result, root = tiny
    explore = [m for m in result.months if m.arm == "explore"]
    assert all(m.min_propensity is not None and m.min_propensity > 0 for m in explore)
    assert sum(m.explored for m in explore) > 0
    store = FeedbackStore(arm_settings(root / "explore", TINY, arm="explore").store_url())
    try:
        log = read_score_log(store)
    finally:
        store.dispose()
    assert (log["propensity"] > 0).all()
    live = log[log["batch_id"].str.startswith("month-")]
    assert len(live) == TINY.months * TINY.world.leads_per_month
    before = log[log["model_version"] == "before-leadloop"]
    assert len(before) > 0 and before["propensity"].between(0.2, 0.3).all()
    assert all(m.weighted for m in explore)
    others = [m for m in result.months if m.arm != "explore"]
    assert all(m.explored == 0 and m.given_up == 0 for m in others)


def test_simulation_is_deterministic(tiny: tuple[SimulationResult, Path], tmp_path: Path) -> None:
    """It gives the same figures for the same world seed."""
    result, _ = tiny
    again = simulate(Simulation(world=TINY.world, months=1, arms=("naive",)), workdir=tmp_path)
    first = next(m for m in result.months if m.arm == "naive")
    assert again.months[0] == first


def test_json_output_shape(tmp_path: Path) -> None:
    """It prints the figures as JSON and writes the page and the SVG chart."""
    page, chart = tmp_path / "sim.html", tmp_path / "sim.svg"
    args = ["simulate", "--months", "1", "--leads-per-month", "300", "--seed", "2", "--json"]
    done = CliRunner().invoke(app, [*args, "--out", str(page), "--svg", str(chart)])
    assert done.exit_code == 0, done.output
    figures = json.loads(done.stdout)
    assert figures["seeds"] == [2]
    assert set(figures["mean_per_month"]) == set(figures["arms"])
    for series in figures["mean_per_month"].values():
        assert len(series["true_auc"]) == len(series["conversions"]) == 1
    world = figures["per_seed"][0]
    assert world["seed"] == 2 and "naive_fall" in world
    assert "<svg" in page.read_text() and chart.read_text().startswith("<svg")
