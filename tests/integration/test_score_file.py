"""`leadloop score`: batch scoring of real files, in chunks, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadloop.batch import load_scorer, score_file
from leadloop.errors import InputError
from tests.conftest import invoke_cli
from tests.forked import fork_cli
from tests.integration.conftest import settings_for


@pytest.fixture(scope="module")
def leads(registered: Path) -> pd.DataFrame:
    return pd.read_csv(registered / "data" / "leads.csv", nrows=1500)


def test_scores_a_csv_into_parquet(registered: Path, leads: pd.DataFrame, tmp_path: Path) -> None:
    """It writes one score record per lead, in input order, with the champion's version."""
    source = tmp_path / "in.csv"
    leads.to_csv(source, index=False)
    done = invoke_cli("score", str(source), "-o", str(tmp_path / "out.parquet"), cwd=registered)
    assert done.returncode == 0, done.stderr
    assert "scored 1,500 leads with v1" in done.stdout
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == [
        "lead_id",
        "probability",
        "score",
        "grade",
        "model_version",
        "reasons",
        "scored_at",
    ]
    assert out["lead_id"].tolist() == leads["lead_id"].tolist()
    assert set(out["model_version"]) == {"1"}
    assert out["score"].between(1, 99).all() and set(out["grade"]) <= set("ABCD")
    reasons = json.loads(out["reasons"].iloc[0])
    assert reasons and {"feature", "value", "points", "text"} == set(reasons[0])


def test_chunks_do_not_change_the_scores(
    registered: Path, leads: pd.DataFrame, tmp_path: Path
) -> None:
    """It gives the same records whether the file is read in one chunk or in many."""
    settings = settings_for(registered)
    source = tmp_path / "in.parquet"
    leads.to_parquet(source, index=False)
    scorer = load_scorer(settings)
    whole = score_file(settings, source, tmp_path / "whole.csv", scorer=scorer)
    parts = score_file(settings, source, tmp_path / "parts.csv", scorer=scorer, chunk_rows=97)
    assert whole.rows == parts.rows == 1500 and whole.grades == parts.grades
    a, b = pd.read_csv(tmp_path / "whole.csv"), pd.read_csv(tmp_path / "parts.csv")
    pd.testing.assert_frame_equal(a.drop(columns="scored_at"), b.drop(columns="scored_at"))


def test_a_named_version_and_no_reasons(
    registered: Path, leads: pd.DataFrame, tmp_path: Path
) -> None:
    """It scores with --model 2 and leaves reasons empty with --reasons 0."""
    source = tmp_path / "in.csv"
    leads.head(50).to_csv(source, index=False)
    out = tmp_path / "out.csv"
    done = invoke_cli(
        "score", str(source), "-o", str(out), "--model", "2", "--reasons", "0", cwd=registered
    )
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(out)
    assert set(frame["model_version"].astype(str)) == {"2"} and set(frame["reasons"]) == {"[]"}


def test_unknown_categories_and_gaps_are_scored(
    registered: Path, leads: pd.DataFrame, tmp_path: Path
) -> None:
    """It scores unseen categories and missing values the way training handled them."""
    odd = leads.head(20).copy()
    odd["lead_source"] = "carrier pigeon"
    odd.loc[:9, "pages_viewed"] = np.nan
    odd = odd.drop(columns=["lead_id"])  # ids are then hashed from the row
    source = tmp_path / "odd.csv"
    odd.to_csv(source, index=False)
    settings = settings_for(registered)
    result = score_file(settings, source, tmp_path / "o.csv", scorer=load_scorer(settings))
    out = pd.read_csv(tmp_path / "o.csv")
    assert result.rows == 20 and out["lead_id"].str.startswith("h").all()
    listed = [r for rs in out["reasons"] for r in json.loads(rs) if r["feature"] == "lead_source"]
    assert all(r["value"] == "carrier pigeon (rare or new)" for r in listed)
    odd["lead_source"] = "smoke signal"  # another unseen value: the same shared "other" code
    odd.to_csv(source, index=False)
    score_file(settings, source, tmp_path / "o2.csv", scorer=load_scorer(settings))
    again = pd.read_csv(tmp_path / "o2.csv")
    np.testing.assert_array_equal(again["probability"], out["probability"])


def test_a_missing_model_column_fails_before_any_work(
    registered: Path, leads: pd.DataFrame, tmp_path: Path
) -> None:
    """It exits 2 naming the column and writes no output when a needed column is absent (a real
    process: the exit status and stderr a shell sees from `leadloop score`)."""
    source = tmp_path / "in.csv"
    leads.drop(columns=["pages_viewed"]).to_csv(source, index=False)
    out = tmp_path / "out.csv"
    done = fork_cli("score", str(source), "-o", str(out), cwd=registered)
    assert done.returncode == 2
    assert "column 'pages_viewed'" in done.stderr and "missing" in done.stderr
    assert not out.exists() and "Traceback" not in done.stderr


def test_a_bad_value_names_its_row_across_chunks(
    registered: Path, leads: pd.DataFrame, tmp_path: Path
) -> None:
    """It names the file row of a bad value found in a later chunk, and leaves no output."""
    bad = leads.copy()
    bad["pages_viewed"] = bad["pages_viewed"].astype(object)
    bad.loc[1234, "pages_viewed"] = "lots"
    source = tmp_path / "bad.csv"
    bad.to_csv(source, index=False)
    settings = settings_for(registered)
    out = tmp_path / "out.parquet"
    with pytest.raises(InputError, match=r"column 'pages_viewed', rows 1235: expected a number"):
        score_file(settings, source, out, scorer=load_scorer(settings), chunk_rows=500)
    assert not out.exists() and not list(tmp_path.glob(".out.parquet*"))


def test_without_a_registry_it_says_what_to_do(tmp_path: Path) -> None:
    """It exits 2 telling the user to run the loop first when nothing is registered."""
    source = tmp_path / "in.csv"
    source.write_text("lead_id,pages_viewed\nL1,3\n")
    done = invoke_cli("score", str(source), "-o", str(tmp_path / "o.csv"), cwd=tmp_path)
    assert done.returncode == 2 and "leadloop run" in done.stderr


def test_refuses_to_overwrite_its_input(registered: Path, tmp_path: Path) -> None:
    """It exits 2 rather than replace the input file with scores."""
    source = tmp_path / "in.csv"
    pd.read_csv(registered / "data" / "leads.csv", nrows=5).to_csv(source, index=False)
    done = invoke_cli("score", str(source), "-o", str(source), cwd=registered)
    assert done.returncode == 2 and "overwrite the input" in done.stderr


def test_a_policy_allocates_the_whole_file_and_logs_every_score(
    registered: Path, leads: pd.DataFrame, tmp_path: Path
) -> None:
    """It gives every record its priority, exploration flag and propensity over the whole file
    (chunks change nothing), and logs each score once per batch in the feedback store."""
    from leadloop.data.score_log import read_score_log
    from leadloop.data.store import FeedbackStore

    store_url = f"sqlite:///{tmp_path / 'feedback.db'}"
    settings = settings_for(
        registered, policy__capacity="0.1", policy__seed="3", serve__store_url=store_url
    )
    source = tmp_path / "in.parquet"
    leads.to_parquet(source, index=False)
    scorer = load_scorer(settings)
    score_file(settings, source, tmp_path / "a.parquet", scorer=scorer, batch_id="march")
    score_file(
        settings, source, tmp_path / "b.parquet", scorer=scorer, chunk_rows=97, batch_id="march"
    )
    a, b = pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet")
    pd.testing.assert_frame_equal(a.drop(columns="scored_at"), b.drop(columns="scored_at"))
    assert list(a.columns[-3:]) == ["priority", "explored", "propensity"]
    assert sorted(a["priority"]) == list(range(1, 1501))
    assert a["propensity"].between(0.005, 1).all()
    greedy = a[~a["explored"]].sort_values("priority")
    assert greedy["probability"].is_monotonic_decreasing
    store = FeedbackStore(store_url)
    log = read_score_log(store)
    store.dispose()
    assert len(log) == 1500 and set(log["batch_id"]) == {"march"}
    merged = log.set_index("lead_id").loc[a["lead_id"]]
    assert np.allclose(merged["propensity"], a["propensity"])


def test_the_cli_scores_under_a_policy_into_a_named_batch(
    registered: Path, leads: pd.DataFrame, tmp_path: Path
) -> None:
    """It adds the policy's columns and logs a named batch once, however often it is scored."""
    from leadloop.data.score_log import read_score_log
    from leadloop.data.store import FeedbackStore

    source = tmp_path / "in.csv"
    leads.head(300).to_csv(source, index=False)
    store_url = f"sqlite:///{tmp_path / 'feedback.db'}"
    env = {"LEADLOOP_POLICY__CAPACITY": "30", "LEADLOOP_SERVE__STORE_URL": store_url}
    for name in ("a.csv", "b.csv"):
        args = ("score", str(source), "-o", str(tmp_path / name), "--batch-id", "week-1")
        done = invoke_cli(*args, cwd=registered, env=env)
        assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "a.csv")
    assert (out["priority"] <= 30).sum() == 30 and out["propensity"].gt(0).all()
    store = FeedbackStore(store_url)
    assert len(read_score_log(store)) == 300
    store.dispose()
