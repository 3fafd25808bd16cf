"""The logged MLflow model: the service's score records from any MLflow tool, no CLI needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import numpy as np
import pandas as pd
import pytest

from leadloop.batch import load_scorer
from tests.integration.conftest import settings_for

if TYPE_CHECKING:  # importing it at run time makes MLflow warn about its own type hints
    from mlflow.pyfunc import PyFuncModel


@pytest.fixture(scope="module")
def logged(registered: Path) -> PyFuncModel:
    """Version 1 loaded the way a Databricks notebook would: mlflow.pyfunc.load_model."""
    uri = settings_for(registered).tracking_uri()
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        model: PyFuncModel = mlflow.pyfunc.load_model("models:/lead-scorer/1")
        return model
    finally:
        mlflow.set_tracking_uri(previous)


def _predict(model: PyFuncModel, leads: pd.DataFrame, **params: object) -> pd.DataFrame:
    """The logged model's output for ``leads``: score records as a table."""
    out = model.predict(leads, params=params or None)
    assert isinstance(out, pd.DataFrame)
    return out


def test_records_equal_the_service(registered: Path, logged: PyFuncModel) -> None:
    """It returns the service's records, missing columns and text timestamps included."""
    leads = pd.read_csv(registered / "data" / "leads.csv", nrows=60)
    leads = leads.drop(columns=["industry"])  # a field none of these leads has
    leads["created_at"] = leads["created_at"].astype(str)
    leads.loc[2, "lead_source"] = "a source never seen"
    out = _predict(logged, leads)
    assert list(out.columns) == [
        "lead_id",
        "probability",
        "score",
        "grade",
        "model_version",
        "reasons",
        "scored_at",
    ]
    records = [
        {str(k): v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
        for row in leads.to_dict("records")
    ]
    served = load_scorer(settings_for(registered)).score_records(
        records, now=pd.Timestamp.now(tz="UTC")
    )
    assert out["lead_id"].tolist() == [r["lead_id"] for r in served]
    np.testing.assert_allclose(out["probability"], [r["probability"] for r in served], rtol=1e-12)
    assert out["score"].tolist() == [r["score"] for r in served]
    assert out["grade"].tolist() == [r["grade"] for r in served]
    assert set(out["model_version"]) == {"1"}
    assert [json.loads(text) for text in out["reasons"]] == [r["reasons"] for r in served]


def test_reasons_can_be_turned_off(logged: PyFuncModel, registered: Path) -> None:
    """It skips the reasons with params={'reasons': 0} and keeps the same probabilities."""
    leads = pd.read_csv(registered / "data" / "leads.csv", nrows=20)
    full = _predict(logged, leads)
    plain = _predict(logged, leads, reasons=0)
    assert set(plain["reasons"]) == {"[]"} and set(full["reasons"]) != {"[]"}
    np.testing.assert_allclose(plain["probability"], full["probability"], rtol=1e-12)


def test_reasons_follow_the_model_config(registered: Path) -> None:
    """It skips the reasons when loaded with model_config={'reasons': 0}, as Spark loads it."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(settings_for(registered).tracking_uri())
    try:
        plain = mlflow.pyfunc.load_model("models:/lead-scorer/1", model_config={"reasons": 0})
    finally:
        mlflow.set_tracking_uri(previous)
    leads = pd.read_csv(registered / "data" / "leads.csv", nrows=20)
    assert set(_predict(plain, leads)["reasons"]) == {"[]"}
