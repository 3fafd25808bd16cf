"""Files that used to be read wrong without a word: stray quotes, rows with missing fields,
decimal commas, a workbook's other sheets, "NA" meaning North America, nested Parquet, and
a file that changes while it is read."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadloop.data import io
from leadloop.errors import InputError

HEADER = "lead_id,company,size,tag"


def _rows(n: int = 20) -> list[str]:
    return [f"L{i},Acme {i},{i},x" for i in range(1, n + 1)]


def _write(tmp_path: Path, lines: list[str], name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_two_stray_quotes_are_refused_naming_the_rows(tmp_path: Path) -> None:
    """It refuses a quote left open in row 4 and closed in row 13, which would read ten leads
    as one field, naming the row, the line and the column."""
    rows = _rows()
    rows[3] = 'L4,"Acme 4,4,x'
    rows[12] = 'L13,Acme 13",13,x'
    path = _write(tmp_path, [HEADER, *rows])
    with pytest.raises(InputError, match="stray quote") as info:
        io.read_table(path)
    assert info.value.rows[:2] == [4, 5] and len(info.value.rows) == 10
    assert info.value.column == "company" and "line 5 of the file" in str(info.value)


def test_a_quote_never_closed_is_refused(tmp_path: Path) -> None:
    """It refuses a single unbalanced quote that would swallow the rest of the file."""
    rows = _rows()
    rows[7] = 'L8,"Acme 8,8,x'
    with pytest.raises(InputError, match="stray quote"):
        io.read_table(_write(tmp_path, [HEADER, *rows]))


def test_quoted_fields_over_several_lines_are_kept(tmp_path: Path) -> None:
    """It reads a properly quoted note that spans lines, commas included."""
    rows = [f'L{i},"Acme {i}",{i},x' for i in range(1, 6)]
    rows[2] = 'L3,"called, no answer\nleft a message, retry",3,x'
    frame = io.read_table(_write(tmp_path, [HEADER, *rows]))
    assert len(frame) == 5
    assert frame["company"].iloc[2] == "called, no answer\nleft a message, retry"


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_rows_with_missing_or_extra_fields_are_refused(tmp_path: Path, quoted: bool) -> None:
    """It refuses rows with fewer or more fields than the header (pandas would fill the
    missing ones with blanks), naming every such row, with or without quotes in the file."""
    rows = [f'L{i},"Acme {i}",{i},x' if quoted else r for i, r in enumerate(_rows(), 1)]
    rows[4] = "L5,Acme,5"
    rows[9] = "L10,Acme,10"
    with pytest.raises(InputError, match="3 fields where the header has 4") as info:
        io.read_table(_write(tmp_path, [HEADER, *rows]))
    assert info.value.rows == [5, 10]
    rows = _rows()
    rows[2] = "L3,Acme,3,x,surplus"
    with pytest.raises(InputError, match="5 fields where the header has 4") as info:
        io.read_table(_write(tmp_path, [HEADER, *rows]))
    assert info.value.rows == [3]


def test_trailing_delimiters_and_blank_lines_are_fine(tmp_path: Path) -> None:
    """It reads rows that end with a delimiter (header or not) and skips blank lines."""
    frame = io.read_table(_write(tmp_path, [HEADER, *[r + "," for r in _rows(5)], "", "L6,A,6,x"]))
    assert frame["lead_id"].tolist() == ["L1", "L2", "L3", "L4", "L5", "L6"]
    assert frame["size"].tolist() == [1, 2, 3, 4, 5, 6]


def test_stray_quotes_are_refused_in_chunks_too(tmp_path: Path) -> None:
    """It refuses the same file when it is read a chunk at a time (batch scoring)."""
    rows = _rows()
    rows[3], rows[12] = 'L4,"Acme 4,4,x', 'L13,Acme 13",13,x'
    with pytest.raises(InputError, match="stray quote"):
        io.TableChunks(_write(tmp_path, [HEADER, *rows]))


def test_decimal_commas_in_a_semicolon_file_are_numbers(tmp_path: Path) -> None:
    """It reads '1,5' and '1.234,56' as numbers in a semicolon file, never as categories, in
    whole and in chunks."""
    lines = ["lead_id;score;revenue;note"] + [f"L{i};{i},5;1.234,{i:02d};a,b" for i in range(1, 31)]
    path = _write(tmp_path, lines)
    for frame in (io.read_table(path), next(iter(io.TableChunks(path)))):
        assert frame["score"].dtype == "float64" and frame["score"].iloc[0] == 1.5
        assert frame["revenue"].iloc[1] == 1234.02
        assert frame["note"].iloc[0] == "a,b"  # text with a comma stays text


def test_the_decimal_mark_can_be_set(tmp_path: Path) -> None:
    """It reads '1.000' as a thousand with decimal ',' and warns, naming the column, when the
    configured '.' leaves decimal-comma numbers as text."""
    lines = ["lead_id;score;count"] + [f"L{i};{i},5;1.000" for i in range(1, 31)]
    path = _write(tmp_path, lines)
    comma = io.read_input(path, io.ReadOptions(decimal=","))
    assert comma.frame["count"].iloc[0] == 1000 and comma.frame["score"].iloc[0] == 1.5
    dot = io.read_input(path, io.ReadOptions(decimal="."))
    assert dot.frame["score"].iloc[0] == "1,5"
    assert any("column 'score'" in w and "leads.decimal: ','" in w for w in dot.warnings)


def test_missing_values_is_the_only_placeholder_list(tmp_path: Path) -> None:
    """It keeps "NA" as a value when missing_values leaves it out (pandas' own list does not
    apply), in CSV and Excel; with "NA" listed it is missing and a warning says it is as
    frequent as the real regions."""
    frame = pd.DataFrame({"lead_id": [f"L{i}" for i in range(40)], "region": ["NA", "EU"] * 20})
    csv, xlsx = tmp_path / "t.csv", tmp_path / "t.xlsx"
    frame.to_csv(csv, index=False)
    frame.to_excel(xlsx, index=False)
    for path in (csv, xlsx):
        kept = io.read_input(path, io.ReadOptions(missing=("", "N/A")))
        assert kept.frame["region"].value_counts().to_dict() == {"NA": 20, "EU": 20}
        assert kept.warnings == []
        lost = io.read_input(path)
        assert lost.frame["region"].isna().sum() == 20
        (warning,) = lost.warnings
        assert "column 'region'" in warning and "'NA'" in warning and "missing_values" in warning


def test_a_rare_placeholder_in_a_free_text_column_is_not_flagged(tmp_path: Path) -> None:
    """It says nothing about "N/A" in a column of many distinct values (it means missing)."""
    titles = [f"title {i}" for i in range(200)] + ["N/A"] * 20
    path = tmp_path / "t.csv"
    pd.DataFrame({"title": titles}).to_csv(path, index=False)
    assert io.read_input(path).warnings == []


def test_the_sheet_of_a_workbook_is_chosen_and_the_others_named(tmp_path: Path) -> None:
    """It reads the configured sheet; without one, the first, with a warning naming the
    others; a sheet that does not exist is refused, listing those that do."""
    path = tmp_path / "t.xlsx"
    with pd.ExcelWriter(path) as book:
        pd.DataFrame({"lead_id": ["a"]}).to_excel(book, sheet_name="Leads", index=False)
        pd.DataFrame({"note": ["x", "y"]}).to_excel(book, sheet_name="Notes", index=False)
    first = io.read_input(path)
    assert list(first.frame.columns) == ["lead_id"]
    assert "'Notes'" in first.warnings[0] and "leads.sheet" in first.warnings[0]
    assert list(io.read_input(path, io.ReadOptions(sheet="Notes")).frame.columns) == ["note"]
    with pytest.raises(InputError, match=r"no sheet 'Nope' \(its sheets: 'Leads', 'Notes'\)"):
        io.read_input(path, io.ReadOptions(sheet="Nope", section="outcomes"))


def test_nested_parquet_columns_are_refused_by_name(tmp_path: Path) -> None:
    """It refuses a Parquet column of lists or structs, naming it, whole and in chunks."""
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"lead_id": ["a", "b"], "tags": [[1, 2], [3]]}), path)
    with pytest.raises(InputError, match="column 'tags': holds nested values"):
        io.read_table(path)
    with pytest.raises(InputError, match="column 'tags': holds nested values"):
        io.TableChunks(path)


def test_the_digest_is_of_the_bytes_parsed(tmp_path: Path) -> None:
    """It records the SHA-256 of exactly the bytes it parsed."""
    path = _write(tmp_path, [HEADER, *_rows()])
    table = io.read_input(path)
    assert table.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(table.frame) == 20


def test_a_table_wider_than_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    """It refuses a CSV or Parquet file with more columns than ``max_columns``, naming the
    count and the setting."""
    frame = pd.DataFrame({f"c{i}": [1, 2] for i in range(30)})
    csv, parquet = tmp_path / "t.csv", tmp_path / "t.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet)
    for path in (csv, parquet):
        with pytest.raises(InputError, match=r"has 30 columns, more than leads.max_columns \(20\)"):
            io.read_input(path, io.ReadOptions(max_columns=20))
        assert io.read_input(path, io.ReadOptions(max_columns=30)).frame.shape == (2, 30)


def test_a_wide_table_is_inspected_without_pandas_warnings(tmp_path: Path) -> None:
    """It inspects a 150-column file (pytest turns any fragmentation warning into a failure)."""
    from leadloop.config import load_settings
    from leadloop.pipeline import inspect_table

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(0, 5, size=(300, 150)), columns=[f"f{i}" for i in range(150)])
    frame.insert(0, "lead_id", [f"L{i}" for i in range(300)])
    frame.insert(1, "created_at", pd.date_range("2025-01-01", periods=300, freq="D").astype(str))
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    rows = inspect_table(load_settings(environ={}, base_dir=tmp_path), path)
    assert len(rows) == 152 and rows[0]["role"] == "id"
