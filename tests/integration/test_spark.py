"""`leadloop score --engine spark`: a local Spark session scores like the single process."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from leadloop.batch import load_scorer, score_file
from leadloop.errors import InputError
from tests.integration.conftest import settings_for

pytest.importorskip("pyspark", reason="Spark scoring needs the spark extra (pyspark)")
pytestmark = pytest.mark.skipif(
    shutil.which("java") is None, reason="Spark needs Java (17) on the machine"
)

from leadloop import spark as spark_engine  # noqa: E402


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    """A local[2] Spark session on 127.0.0.1, stopped after the module's tests."""
    started = spark_engine.spark_session("local[2]", ui=False)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def leads(registered: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Leads in Parquet with text timestamps, placeholders, unseen categories and gaps."""
    frame = pd.read_csv(registered / "data" / "leads.csv", nrows=900)
    frame["created_at"] = frame["created_at"].astype(str)  # text, as the CSV holds it
    frame.loc[3, "industry"] = "N/A"  # a missing-value placeholder
    frame.loc[5, "lead_source"] = "a source never seen"
    frame.loc[7:40, "company_size"] = np.nan
    path = tmp_path_factory.mktemp("spark") / "leads.parquet"
    frame.to_parquet(path, index=False)
    return path


def test_spark_records_equal_the_single_process(
    registered: Path, leads: Path, session: Any, tmp_path: Path
) -> None:
    """It writes through MLflow's spark_udf the very records of the single-process path."""
    settings = settings_for(registered)
    scorer = load_scorer(settings, reasons=3)
    single = score_file(settings, leads, tmp_path / "single.parquet", scorer=scorer)
    done = spark_engine.score_on_spark(
        settings, str(leads), str(tmp_path / "spark.parquet"), scorer=scorer, spark=session
    )
    assert done.rows == single.rows == 900 and done.grades == single.grades
    assert done.model_version == single.model_version == "1"
    local = pd.read_parquet(tmp_path / "single.parquet")
    remote = pd.read_parquet(tmp_path / "spark.parquet").set_index("lead_id")
    remote = remote.loc[local["lead_id"]].reset_index()
    assert list(remote.columns) == list(local.columns)
    assert remote["scored_at"].nunique() == 1 and str(remote["scored_at"].dt.tz) == "UTC"
    # Spark's workers score with compiled trees (where lleaves is installed): the same margins
    # to the last bits of a double, so probabilities are compared to float tolerance.
    np.testing.assert_allclose(remote["probability"], local["probability"], rtol=1e-12)
    columns = ["lead_id", "score", "grade", "model_version", "reasons"]
    for i, (mine, theirs) in enumerate(
        zip(local[columns].itertuples(), remote[columns].itertuples(), strict=True)
    ):
        assert mine == theirs, f"row {i}: {mine} != {theirs}"


def test_spark_reads_pandas_nanosecond_timestamps(
    registered: Path, leads: Path, session: Any, tmp_path: Path
) -> None:
    """It scores Parquet whose timestamps pandas wrote in nanoseconds as the single process."""
    settings = settings_for(registered)
    scorer = load_scorer(settings, reasons=3)
    frame = pd.read_parquet(leads).head(200)
    frame["created_at"] = pd.to_datetime(frame["created_at"]).astype("datetime64[ns]")
    source = tmp_path / "nanos.parquet"
    frame.to_parquet(source, index=False)
    score_file(settings, source, tmp_path / "single.parquet", scorer=scorer)
    spark_engine.score_on_spark(
        settings, str(source), str(tmp_path / "spark.parquet"), scorer=scorer, spark=session
    )
    local = pd.read_parquet(tmp_path / "single.parquet")
    remote = pd.read_parquet(tmp_path / "spark.parquet").set_index("lead_id")
    remote = remote.loc[local["lead_id"]].reset_index()
    np.testing.assert_allclose(remote["probability"], local["probability"], rtol=1e-12)
    assert remote["reasons"].tolist() == local["reasons"].tolist()


def test_spark_refuses_input_without_a_feature(
    registered: Path, leads: Path, session: Any, tmp_path: Path
) -> None:
    """It refuses, before scoring, a table that lacks a column the model needs, naming it."""
    settings = settings_for(registered)
    scorer = load_scorer(settings, reasons=0)
    lacking = tmp_path / "lacking.parquet"
    pd.read_parquet(leads).drop(columns=["industry"]).to_parquet(lacking, index=False)
    with pytest.raises(InputError, match="industry"):
        spark_engine.score_on_spark(
            settings, str(lacking), str(tmp_path / "out.parquet"), scorer=scorer, spark=session
        )
    assert not (tmp_path / "out.parquet").exists()
