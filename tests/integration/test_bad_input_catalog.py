"""A catalogue of malformed inputs, each through the real CLI.

Every case must exit 2 with a one-line message naming the file (and, where there is one, the
column and an example row), and leave the registry, the store and earlier reports untouched.
The cases run in-process through Click's runner (the same ``leadloop`` application, without
paying the start-up of a process each); a few also run as real processes, for the exit code a
shell sees.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from leadloop.data.synthetic import SyntheticSpec
from leadloop.pipeline import write_synthetic
from tests.conftest import invoke_cli, run_cli

Mutate = Callable[[Path], object]  # changes the project at a path (what it returns is unused)


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Mutate
    expect: tuple[str, ...]
    args: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


def _leads(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "data" / "leads.csv")


def _outcomes(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "data" / "outcomes.csv")


def _save(root: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(root / "data" / name, index=False)


def _write(name: str, content: bytes) -> Mutate:
    return lambda root: (root / "data" / name).write_bytes(content)


def _config(text: str) -> Mutate:
    return lambda root: (root / "leadloop.yaml").write_text(text)


def _edit_leads(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Mutate:
    return lambda root: _save(root, "leads.csv", change(_leads(root)))


def _edit_outcomes(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Mutate:
    return lambda root: _save(root, "outcomes.csv", change(_outcomes(root)))


def _set(frame: pd.DataFrame, column: str, row: int, value: object) -> pd.DataFrame:
    values = frame[column].to_numpy(dtype=object, copy=True)
    values[row] = value
    frame[column] = values
    return frame


def _both(first: Mutate, second: Mutate) -> Mutate:
    def run(root: Path) -> None:
        first(root)
        second(root)

    return run


LEADS_AT = "leads:\n  path: data/leads.{}\n"
CASES = [
    Case("empty file", _write("leads.csv", b""), ("leads.csv", "file is empty")),
    Case(
        "header only", _write("leads.csv", b"lead_id,created_at,size\n"), ("leads.csv", "no rows")
    ),
    Case("binary garbage", _write("leads.csv", bytes(range(256)) * 40), ("leads.csv", "binary")),
    Case(
        "unknown delimiter",
        lambda r: (r / "data" / "leads.csv").write_text(_leads(r).to_csv(index=False, sep="#")),
        ("leads.csv", "delimiter was not recognised"),
    ),
    Case(
        "duplicate column names",
        _write("leads.csv", b"lead_id,created_at,x,x\n1,2025-01-01,1,2\n"),
        ("leads.csv", "duplicate column names ['x']"),
    ),
    Case(
        "configured id column missing",
        _config("leads:\n  id_column: customer\n"),
        ("leads.csv", "column 'customer'", "missing"),
    ),
    Case(
        "configured timestamp missing",
        _config("leads:\n  created_at_column: opened\n"),
        ("leads.csv", "column 'opened'"),
    ),
    Case(
        "duplicate ids",
        _edit_leads(lambda f: _set(f, "lead_id", 7, f.loc[3, "lead_id"])),
        ("leads.csv", "column 'lead_id'", "rows 4, 8", "duplicate lead ids"),
    ),
    Case(
        "blank id",
        _edit_leads(lambda f: _set(f, "lead_id", 5, None)),
        ("leads.csv", "column 'lead_id'", "rows 6", "missing"),
    ),
    Case(
        "unparseable date",
        _edit_leads(lambda f: _set(f, "created_at", 9, "31/31/2025 25:99")),
        ("leads.csv", "column 'created_at'", "rows 10", "cannot parse timestamp"),
    ),
    Case(
        "created in the future",
        _edit_leads(lambda f: _set(f, "created_at", 4, "2099-01-01")),
        ("leads.csv", "column 'created_at'", "rows 5", "future"),
    ),
    Case(
        "all-missing timestamps",
        _edit_leads(lambda f: f.assign(created_at=None)),
        ("leads.csv", "column 'created_at'", "rows 1"),
    ),
    Case(
        "infinite number",
        _edit_leads(lambda f: _set(f, "company_size", 2, "inf")),
        ("leads.csv", "column 'company_size'", "rows 3", "infinite"),
    ),
    Case(
        "negative infinity",
        _edit_leads(lambda f: _set(f, "pages_viewed", 11, "-inf")),
        ("leads.csv", "column 'pages_viewed'", "rows 12", "infinite"),
    ),
    Case(
        "mixed types",
        _edit_leads(lambda f: _set(f, "emails_opened", 6, "lots")),
        ("leads.csv", "column 'emails_opened'", "rows 7", "mixes numbers with text"),
    ),
    Case(
        "huge field",
        _edit_leads(lambda f: _set(f, "industry", 3, "x" * 50_000)),
        ("leads.csv", "column 'industry'", "rows 4", "longer than"),
    ),
    Case(
        "unsupported file type", _config(LEADS_AT.format("json")), ("leads.json", "file not found")
    ),
    Case(
        "json file present",
        _both(_write("leads.json", b"{}"), _config(LEADS_AT.format("json"))),
        ("leads.json", "unsupported file type"),
    ),
    Case(
        "missing file", _config("leads:\n  path: data/nope.csv\n"), ("nope.csv", "file not found")
    ),
    Case(
        "directory, not file",
        _both(
            lambda r: (r / "data" / "dir.csv").mkdir(),
            _config(LEADS_AT.format("csv").replace("leads.", "dir.")),
        ),
        ("dir.csv", "directory"),
    ),
    Case(
        "single-class label",
        _both(
            _edit_leads(lambda f: f.assign(converted="yes")),
            _config("leads:\n  label_column: converted\n"),
        ),
        ("leads.csv", "column 'converted'", "single class"),
    ),
    Case(
        "label outside yes/no",
        _both(
            _edit_leads(lambda f: f.assign(converted="maybe")),
            _config("leads:\n  label_column: converted\n"),
        ),
        ("leads.csv", "column 'converted'", "rows 1", "'maybe'"),
    ),
    Case(
        "label column missing",
        _config("leads:\n  label_column: converted\n"),
        ("leads.csv", "column 'converted'", "missing"),
    ),
    Case(
        "date out of range",
        _edit_leads(lambda f: _set(f, "created_at", 4, "2999-01-01")),
        ("leads.csv", "column 'created_at'", "rows 5", "out of range"),
    ),
    Case(
        "broken parquet",
        _both(_write("leads.parquet", b"PAR1 not really"), _config(LEADS_AT.format("parquet"))),
        ("leads.parquet", "cannot be read"),
    ),
    Case(
        "broken xlsx",
        _both(_write("leads.xlsx", b"not a workbook"), _config(LEADS_AT.format("xlsx"))),
        ("leads.xlsx", "cannot be read"),
    ),
    Case("outcomes empty", _write("outcomes.csv", b""), ("outcomes.csv", "file is empty")),
    Case(
        "outcomes header only",
        _write("outcomes.csv", b"lead_id,outcome,occurred_at\n"),
        ("outcomes.csv", "no rows"),
    ),
    Case(
        "outcomes binary", _write("outcomes.csv", b"\x00\x01\x02" * 500), ("outcomes.csv", "binary")
    ),
    Case(
        "no outcome column",
        _edit_outcomes(lambda f: f.drop(columns=["outcome"])),
        ("outcomes.csv", "column 'outcome'", "missing"),
    ),
    Case(
        "no occurred_at column",
        _edit_outcomes(lambda f: f.drop(columns=["occurred_at"])),
        ("outcomes.csv", "column 'occurred_at'", "missing"),
    ),
    Case(
        "no lead id, no row order",
        _edit_outcomes(lambda f: f.drop(columns=["lead_id"])),
        ("outcomes.csv", "column 'lead_id'", "row order"),
    ),
    Case(
        "row order, other length",
        _both(
            _edit_outcomes(lambda f: f.drop(columns=["lead_id"])),
            _config("outcomes:\n  join: row_order\n"),
        ),
        ("outcomes.csv", "as many outcome rows as leads"),
    ),
    Case(
        "outcome outside mapping",
        _edit_outcomes(lambda f: _set(f, "outcome", 2, "Negotiation")),
        ("outcomes.csv", "column 'outcome'", "rows 3", "'Negotiation'"),
    ),
    Case(
        "unparseable event time",
        _edit_outcomes(lambda f: _set(f, "occurred_at", 8, "soon")),
        ("outcomes.csv", "column 'occurred_at'", "rows 9", "'soon'"),
    ),
    Case(
        "ambiguous day/month",
        _edit_leads(lambda f: f.assign(created_at=["01/02/2025", "03/04/2025"] * (len(f) // 2))),
        ("leads.csv", "column 'created_at'", "'01/02/2025' and '03/04/2025'", "date_formats"),
    ),
    Case(
        "event time against its column's day-first order",
        _edit_outcomes(
            lambda f: _set(
                f.assign(occurred_at=pd.to_datetime(f["occurred_at"]).dt.strftime("%d/%m/%Y")),
                "occurred_at",
                5,
                "11/25/2025",
            )
        ),
        ("outcomes.csv", "column 'occurred_at'", "rows 6", "'11/25/2025' does not fit"),
    ),
    Case(
        "label-only without a label column",
        _config("outcomes: none\n"),
        ("leadloop.yaml", "leads.label_column"),
    ),
    Case(
        "amount not a number",
        _edit_outcomes(lambda f: _set(f, "amount", 1, "lots")),
        ("outcomes.csv", "column 'amount'", "rows 2", "not a number"),
    ),
    Case(
        "negative amount",
        _edit_outcomes(lambda f: _set(f, "amount", 3, -50)),
        ("outcomes.csv", "column 'amount'", "rows 4", "at least 0"),
    ),
    Case(
        "outcomes for unknown leads",
        _edit_outcomes(lambda f: f.assign(lead_id="X" + f["lead_id"].astype(str))),
        ("outcomes.csv", "column 'lead_id'", "rows 1", "no outcome names a lead"),
    ),
    Case(
        "config typo",
        _config("lables:\n  maturity_days: 30\n"),
        ("leadloop.yaml", "unknown key 'lables'"),
    ),
    Case(
        "config wrong type",
        _config("labels:\n  maturity_days: soon\n"),
        ("leadloop.yaml", "labels.maturity_days"),
    ),
    Case("config not YAML", _config("labels: [unclosed\n"), ("leadloop.yaml", "not valid YAML")),
    Case(
        "config file not found",
        lambda r: None,
        ("other.yaml", "not found"),
        args=("--config", "other.yaml"),
    ),
    Case(
        "won and lost overlap",
        _config("outcomes:\n  won_values: [x]\n  lost_values: [x]\n"),
        ("leadloop.yaml", "both won and lost"),
    ),
    Case(
        "holdout fraction out of range",
        _config("split:\n  holdout_fraction: 1.5\n"),
        ("leadloop.yaml", "split.holdout_fraction"),
    ),
    Case(
        "grade cut-offs not descending",
        _config("evaluation:\n  grade_cutoffs: [0.1, 0.2, 0.4]\n"),
        ("leadloop.yaml", "evaluation.grade_cutoffs"),
    ),
    Case(
        "no labelled leads at the cutoff",
        _config("labels:\n  cutoff: 2000-01-01\n"),
        ("no labelled leads",),
    ),
    Case(
        "one class of CRM labels",
        _both(
            _edit_outcomes(lambda f: f.assign(outcome="Closed Won")),
            _config("labels:\n  unmatured: exclude\n"),
        ),
        ("too few labelled leads", "0 lost"),
    ),
    Case(
        "bad environment override",
        lambda r: None,
        ("labels.maturity_days",),
        extra={"LEADLOOP_LABELS__MATURITY_DAYS": "-3"},
    ),
]


def _raw_lines(name: str, change: Callable[[list[str]], list[str]]) -> Mutate:
    """Edit a data file line by line, as text (to plant what pandas would not write)."""

    def run(root: Path) -> None:
        path = root / "data" / name
        path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")

    return run


def _stray_quotes(lines: list[str]) -> list[str]:
    """Two unbalanced quotes ten rows apart: everything between would become one field."""
    first, second = lines[5].split(","), lines[15].split(",")
    first[2] = '"' + first[2]
    second[2] = second[2] + '"'
    return [*lines[:5], ",".join(first), *lines[6:15], ",".join(second), *lines[16:]]


def _drop_last_field(rows: tuple[int, ...]) -> Callable[[list[str]], list[str]]:
    return lambda lines: [
        line.rsplit(",", 1)[0] if i in rows else line for i, line in enumerate(lines)
    ]


def _nested_parquet(root: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    leads = _leads(root)
    table = pa.Table.from_pandas(leads, preserve_index=False)
    tags = pa.array([[1, 2]] * len(leads), type=pa.list_(pa.int64()))
    pq.write_table(table.append_column("tags", tags), root / "data" / "leads.parquet")


def _workbook(root: Path) -> None:
    with pd.ExcelWriter(root / "data" / "leads.xlsx") as book:
        _leads(root).head(300).to_excel(book, sheet_name="Leads", index=False)
        pd.DataFrame({"note": ["x"]}).to_excel(book, sheet_name="Notes", index=False)


PUBLISHING = [  # operator faults, and reading faults that once passed silently (issue 15)
    Case(
        "two stray quotes",
        _raw_lines("leads.csv", _stray_quotes),
        ("leads.csv", "column 'lead_source'", "rows 5, 6", "stray quote", "line 6 of the file"),
    ),
    Case(
        "rows missing a field",
        _raw_lines("leads.csv", _drop_last_field((4, 9))),
        ("leads.csv", "rows 4, 9", "fields where the header has 13"),
    ),
    Case(
        "outcome rows missing a field",
        _raw_lines("outcomes.csv", _drop_last_field((3,))),
        ("outcomes.csv", "rows 3", "fields where the header has"),
    ),
    Case(
        "row with an extra field",
        _raw_lines("leads.csv", lambda ls: [*ls[:8], ls[8] + ",surplus", *ls[9:]]),
        ("leads.csv", "rows 8", "14 fields where the header has 13"),
    ),
    Case(
        "excluded column that does not exist",
        _config("leads:\n  exclude_columns: [compnay_size]\n"),
        ("leads.csv", "column 'compnay_size'", "leads.exclude_columns"),
    ),
    Case(
        "typed column that does not exist",
        _config("leads:\n  feature_types: {region: categorical}\n"),
        ("leads.csv", "column 'region'", "leads.feature_types"),
    ),
    Case(
        "date format for a column that does not exist",
        _config("leads:\n  date_formats: {signup: dayfirst}\n"),
        ("leads.csv", "column 'signup'", "leads.date_formats"),
    ),
    Case(
        "outcome date format for a column that does not exist",
        _config("outcomes:\n  date_formats: {closed: dayfirst}\n"),
        ("outcomes.csv", "column 'closed'", "outcomes.date_formats"),
    ),
    Case(
        "cutoff in the future",
        _config("labels:\n  cutoff: 2099-01-01\n"),
        ("labels.cutoff", "in the future"),
    ),
    Case(
        "cutoff in year 2300",
        _config("labels:\n  cutoff: 2300-01-01\n"),
        ("leadloop.yaml", "labels.cutoff", "out of range"),
    ),
    Case(
        "cutoff in year 9999",
        _config("labels:\n  cutoff: 9999-12-31T23:59:59Z\n"),
        ("leadloop.yaml", "labels.cutoff", "out of range"),
    ),
    Case(
        "maturity of a billion days",
        _config("labels:\n  maturity_days: 1000000000\n"),
        ("leadloop.yaml", "labels.maturity_days", "3650"),
    ),
    Case(
        "absurd number of trees",
        _config("model:\n  num_boost_round: 1000000000000\n"),
        ("leadloop.yaml", "model.num_boost_round"),
    ),
    Case(
        "nested Parquet column",
        _both(_nested_parquet, _config(LEADS_AT.format("parquet"))),
        ("leads.parquet", "column 'tags'", "nested values"),
    ),
    Case(
        "workbook sheet that does not exist",
        _both(_workbook, _config(LEADS_AT.format("xlsx") + "  sheet: Leeds\n")),
        ("leads.xlsx", "no sheet 'Leeds'", "'Leads', 'Notes'", "leads.sheet"),
    ),
    Case(
        "table wider than leads.max_columns",
        _config("leads:\n  max_columns: 10\n"),
        ("leads.csv", "has 13 columns", "leads.max_columns (10)"),
    ),
    Case(
        "bogus tracking URI",
        _config("tracking:\n  uri: bogus://nowhere\n"),
        ("leadloop.yaml", "tracking.uri", "not an MLflow store"),
    ),
    Case(
        "unreachable tracking database, password redacted",
        _config("tracking:\n  uri: postgresql+psycopg://ops:hunter2@127.0.0.1:9/mlflow\n"),
        ("cannot reach the tracking database", "ops:***@127.0.0.1"),
    ),
    Case(
        "tracking store that is not a database",
        _config("tracking:\n  uri: sqlite:///data/leads.csv\n"),
        ("not an SQLite database",),
    ),
    Case(
        "reports_dir pointing at a file",
        _config("reports_dir: data/leads.csv\n"),
        ("reports_dir", "leads.csv", "is a file"),
    ),
    Case(
        "duplicate YAML section",
        _config("split:\n  holdout_fraction: 1.5\nsplit:\n  holdout_fraction: 0.2\n"),
        ("leadloop.yaml", "'split' is given twice"),
    ),
    Case(
        "Latin-1 settings file",
        lambda r: (r / "leadloop.yaml").write_bytes("# Réglages\nlabels: {}\n".encode("latin-1")),
        ("leadloop.yaml", "not UTF-8"),
    ),
    Case(
        "environment value that is not a section",
        lambda r: None,
        ("LEADLOOP_LEADS", "'leads'"),
        extra={"LEADLOOP_LEADS": "data/leads.csv"},
    ),
    Case(
        "malformed environment list",
        lambda r: None,
        ("LEADLOOP_LEADS__EXCLUDE_COLUMNS", "YAML list"),
        extra={"LEADLOOP_LEADS__EXCLUDE_COLUMNS": "[industry"},
    ),
]
CASES += PUBLISHING


def _fingerprint(root: Path) -> tuple[str, list[str]]:
    store = root / ".leadloop" / "mlflow.db"
    digest = hashlib.sha256(store.read_bytes()).hexdigest()
    reports = sorted(str(p.relative_to(root)) for p in (root / "reports").rglob("*"))
    return digest, reports


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project that has run once: a store, a champion and a report exist."""
    root = tmp_path_factory.mktemp("baseline")
    write_synthetic(
        SyntheticSpec(n_leads=3000, months=12, seed=4),
        leads_path=root / "data" / "leads.csv",
        outcomes_path=root / "data" / "outcomes.csv",
    )
    done = invoke_cli("run", cwd=root)
    assert done.returncode in (0, 3), done.stderr
    return root


def _files(root: Path) -> dict[str, bytes]:
    """Every input a case can change: the data files and the settings file."""
    paths = [*sorted((root / "data").iterdir()), root / "leadloop.yaml"]
    return {p.name: p.read_bytes() for p in paths if p.is_file()}


def _attempt(case: Case, baseline: Path, root: Path) -> tuple[int, str, bool]:
    """Run the case in-process; the exit code, what it said on stderr, and whether the store
    and the reports are as they were."""
    shutil.copytree(baseline, root)
    before = _fingerprint(root)
    case.mutate(root)
    done = invoke_cli("run", *case.args, cwd=root, env=case.extra)
    return done.returncode, done.stderr.strip(), _fingerprint(root) == before


def _problems(case: Case, code: int, message: str, untouched: bool) -> list[str]:
    problems = []
    if code != 2:
        problems.append(f"exit {code}")
    if len(message.splitlines()) != 1 or "Traceback" in message:
        problems.append("not one line")
    flat = " ".join(message.split())
    problems += [f"no '{word}'" for word in case.expect if word not in flat]
    if not untouched:
        problems.append("store or reports changed")
    return problems


def test_every_case_is_a_distinct_real_fault(baseline: Path, tmp_path: Path) -> None:
    """It holds at least forty differently named cases, each of which changes the inputs or
    the environment and names what the message must say."""
    assert len({c.name for c in CASES}) == len(CASES) >= 75
    pristine = _files(baseline)
    for i, case in enumerate(CASES):
        root = tmp_path / f"case{i}"
        shutil.copytree(baseline / "data", root / "data")
        case.mutate(root)
        assert case.expect, case.name
        assert _files(root) != pristine or case.extra or case.args, f"{case.name} changes nothing"


def test_every_bad_input_exits_2_with_one_line(baseline: Path, tmp_path: Path) -> None:
    """It exits 2 with one line naming file, column and row, and changes no store or report."""
    failures = []
    for i, case in enumerate(CASES):
        code, message, untouched = _attempt(case, baseline, tmp_path / f"case{i}")
        problems = _problems(case, code, message, untouched)
        if problems:
            failures.append(f"{case.name}: {', '.join(problems)} :: {message[:300]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "name",
    [
        "binary garbage",
        "config not YAML",
        "bad environment override",
        "two stray quotes",
        "unreachable tracking database, password redacted",
        "table wider than leads.max_columns",
    ],
)
def test_a_real_process_exits_2_with_one_line(baseline: Path, tmp_path: Path, name: str) -> None:
    """It exits 2 with one line as a real process too (what a shell or CI sees)."""
    case = next(c for c in CASES if c.name == name)
    root = tmp_path / "case"
    shutil.copytree(baseline, root)
    before = _fingerprint(root)
    case.mutate(root)
    done = run_cli("run", *case.args, cwd=root, env=case.extra)
    problems = _problems(case, done.returncode, done.stderr.strip(), _fingerprint(root) == before)
    assert not problems, f"{problems} :: {done.stderr[:300]}"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("nested Parquet column", ("leads.parquet", "column 'tags'", "nested values")),
        ("table wider than leads.max_columns", ("leads.csv", "has 13 columns")),
        ("typed column that does not exist", ("leads.csv", "column 'region'")),
    ],
)
def test_inspect_refuses_what_run_refuses(
    baseline: Path, tmp_path: Path, name: str, words: tuple[str, ...]
) -> None:
    """It exits 2 with one line from `leadloop inspect` on the configured leads file too."""
    case = next(c for c in CASES if c.name == name)
    root = tmp_path / "case"
    shutil.copytree(baseline, root)
    case.mutate(root)
    target = "data/leads.parquet" if "Parquet" in name else "data/leads.csv"
    done = invoke_cli("inspect", target, cwd=root)
    problems = _problems(Case(name, case.mutate, words), done.returncode, done.stderr.strip(), True)
    assert not problems, f"{problems} :: {done.stderr[:300]}"
