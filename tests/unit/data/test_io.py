"""Reading and writing files: clear errors, atomic writes."""

from pathlib import Path

import pandas as pd
import pytest

from leadloop.data import io
from leadloop.errors import InputError


def test_round_trip_csv_and_parquet(tmp_path: Path) -> None:
    """It writes and reads back CSV and Parquet tables."""
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for name in ("t.csv", "t.parquet"):
        io.write_table(frame, tmp_path / name)
        back = io.read_table(tmp_path / name)
        assert back["a"].tolist() == [1, 2]
        assert back["b"].tolist() == ["x", "y"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "file not found"),
        ("empty.csv", b"", "file is empty"),
        ("table.xml", b"<a/>", "unsupported file type"),
        ("dupes.csv", b"a,a\n1,2\n", "duplicate column names"),
        ("broken.parquet", b"not parquet at all", "cannot be read"),
    ],
)
def test_read_errors_name_the_file(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    """It raises InputError naming the file for missing, empty, unknown and broken files."""
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        io.read_table(path)
    assert name in str(info.value)


def test_bom_is_stripped(tmp_path: Path) -> None:
    """It reads a UTF-8 file with a byte-order mark without mangling the first column name."""
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefflead_id,x\n1,2\n".encode())
    assert list(io.read_table(path).columns) == ["lead_id", "x"]


def test_dvc_hash_read_from_pointer_file(tmp_path: Path) -> None:
    """It reads the MD5 DVC recorded for a tracked file, and None for an untracked one."""
    data = tmp_path / "leads.csv"
    data.write_text("lead_id\n1\n")
    assert io.dvc_hash(data) is None
    (tmp_path / "leads.csv.dvc").write_text(
        "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 11\n  path: leads.csv\n"
    )
    assert io.dvc_hash(data) == "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path: Path, sep: str) -> None:
    """It finds the delimiter of a CSV on its own, quoting included."""
    path = tmp_path / "t.csv"
    path.write_text(f'lead_id{sep}name{sep}size\n1{sep}"Smith{sep} Jones"{sep}3\n2{sep}x{sep}4\n')
    frame = io.read_table(path)
    assert list(frame.columns) == ["lead_id", "name", "size"]
    assert frame["name"].iloc[0] == f"Smith{sep} Jones"


def test_latin1_and_trailing_delimiters(tmp_path: Path) -> None:
    """It reads Latin-1 text and ignores the empty columns of trailing delimiters."""
    path = tmp_path / "t.csv"
    path.write_bytes("lead_id;city;\n1;Málaga;\n2;Zürich;\n".encode("latin-1"))
    frame = io.read_table(path)
    assert list(frame.columns) == ["lead_id", "city"]
    assert frame["city"].tolist() == ["Málaga", "Zürich"]


def test_placeholders_become_missing(tmp_path: Path) -> None:
    """It treats configured placeholder values as missing, in CSV and Parquet alike."""
    frame = pd.DataFrame({"lead_id": ["1", "2", "3"], "title": ["Select", "CEO", "N/A"]})
    for name in ("t.csv", "t.parquet"):
        io.write_table(frame, tmp_path / name)
        back = io.read_table(tmp_path / name, missing=("N/A", "Select"))
        assert back["title"].isna().tolist() == [True, False, True]


def test_excel(tmp_path: Path) -> None:
    """It reads an Excel export."""
    frame = pd.DataFrame({"lead_id": ["a", "b"], "size": [1.5, None]})
    frame.to_excel(tmp_path / "t.xlsx", index=False)
    back = io.read_table(tmp_path / "t.xlsx")
    assert back["lead_id"].tolist() == ["a", "b"]
    assert back["size"].isna().tolist() == [False, True]
