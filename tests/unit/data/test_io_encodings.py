"""Text encodings: detected, not assumed; refused only when the bytes are not text."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from leadloop.data import io
from leadloop.errors import InputError

ROWS = [("1", "Köln", "12,50 €", "“hot” lead"), ("2", "Zürich", "9 €", "‘warm’ – call")]


def _text(sep: str = ";") -> str:
    lines = [sep.join(("lead_id", "city", "price", "note"))] + [sep.join(r) for r in ROWS]
    return "\n".join(lines) + "\n"


def _check(path: Path) -> None:
    for frame in (io.read_table(path), next(iter(io.TableChunks(path)))):
        assert frame["city"].tolist() == ["Köln", "Zürich"]
        assert frame["price"].tolist() == ["12,50 €", "9 €"]
        assert frame["note"].tolist() == ["“hot” lead", "‘warm’ – call"]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be-bom", "utf-32", "utf-8-sig", "cp1252"])
def test_encodings_are_read_right(tmp_path: Path, codec: str) -> None:
    """It reads UTF-16 and UTF-32 with a byte-order mark, UTF-8 and Windows-1252 (euro sign and
    curly quotes intact, not read as Latin-1), whole and in chunks."""
    path = tmp_path / "leads.csv"
    if codec == "utf-16-be-bom":
        path.write_bytes(codecs.BOM_UTF16_BE + _text().encode("utf-16-be"))
    else:
        path.write_bytes(_text().encode(codec))
    _check(path)


def test_short_cp1252_file(tmp_path: Path) -> None:
    """It reads a tiny Windows-1252 file with a euro sign at its very end."""
    path = tmp_path / "leads.csv"
    path.write_bytes("lead_id,price\n1,12 €\n".encode("cp1252"))
    assert io.read_table(path)["price"].tolist() == ["12 €"]


def test_cp1252_after_a_long_ascii_start(tmp_path: Path) -> None:
    """It reads a Windows-1252 file whose first non-ASCII byte comes after the sniffed sample."""
    lines = ["lead_id,price"] + [f"{i},{i}" for i in range(20_000)] + ["20000,15 €"]
    path = tmp_path / "leads.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    frame = io.read_table(path)
    assert frame["price"].iloc[-1] == "15 €"


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 40, b"\x00\x01\x02" * 500, b"PK\x03\x04" + bytes(range(200)) * 5],
    ids=["all-bytes", "nul-bytes", "zip-header"],
)
def test_binary_is_refused(tmp_path: Path, content: bytes) -> None:
    """It refuses binary content with one clear message naming the file."""
    path = tmp_path / "leads.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"leads\.csv: is not a text table \(binary content"):
        io.read_table(path)


@pytest.mark.parametrize(
    ("codec", "cities"),
    [
        ("cp1250", ["Łódź", "Świętochłowice", "Kraków", "Gdańsk"]),
        ("cp1251", ["Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург"]),
        ("utf-16-le", ["Köln", "Zürich", "Málaga", "Paris"]),
    ],
)
def test_other_code_pages_are_not_forced_to_windows_1252(
    tmp_path: Path, codec: str, cities: list[str]
) -> None:
    """It keeps the detector's answer when Windows-1252 would garble the text, and reads UTF-16
    without a byte-order mark."""
    path = tmp_path / "leads.csv"
    text = "lead_id;city\n" + "".join(f"{i};{c}\n" for i, c in enumerate(cities))
    path.write_bytes(text.encode(codec))
    assert io.read_table(path)["city"].tolist() == cities
