"""The report's one number format: every figure on the page goes through these functions.

Rates, AUCs, lifts and other figures show three decimals; differences carry their sign;
shares are percentages with one decimal; counts and amounts are whole numbers with thousands
separators; p-values below 0.001 read "< 0.001". A missing figure is an en dash, never blank.
The page's script formats hover values with the same three decimals.
"""

from __future__ import annotations

import math

MISSING = "–"
DIGITS = 3


def _missing(value: float | int | None) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def number(value: float | int | None, digits: int = DIGITS) -> str:
    """A figure with three decimals: 0.132, 4.073."""
    if _missing(value):
        return MISSING
    text = f"{float(value):.{digits}f}"  # type: ignore[arg-type]
    return "0." + "0" * digits if text == "-0." + "0" * digits else text


def signed(value: float | int | None, digits: int = DIGITS) -> str:
    """A difference with its sign: +0.006, -0.003."""
    if _missing(value):
        return MISSING
    text = f"{float(value):+.{digits}f}"  # type: ignore[arg-type]
    return "+0." + "0" * digits if text == "-0." + "0" * digits else text


def percent(value: float | int | None, digits: int = 1) -> str:
    """A share as a percentage: 12.3%."""
    if _missing(value):
        return MISSING
    return f"{100 * float(value):.{digits}f}%"  # type: ignore[arg-type]


def count(value: float | int | None) -> str:
    """A whole number with thousands separators: 12,345."""
    if _missing(value):
        return MISSING
    return f"{round(float(value)):,}"  # type: ignore[arg-type]


def amount(value: float | int | None) -> str:
    """A sum of deal amounts, whole units of the CRM's currency: 1,234,567."""
    return count(value)


def pvalue(value: float | int | None) -> str:
    """A p-value: three decimals, or "< 0.001"."""
    if _missing(value):
        return MISSING
    return "< 0.001" if float(value) < 0.001 else number(value)  # type: ignore[arg-type]


def interval(lower: float | None, upper: float | None, *, sign: bool = False) -> str:
    """An interval: "0.801 to 0.826", or with signs "-0.003 to +0.015"."""
    if _missing(lower) or _missing(upper):
        return MISSING
    show = signed if sign else number
    return f"{show(lower)} to {show(upper)}"


FILTERS = {
    "num": number,
    "signed": signed,
    "pct": percent,
    "thousands": count,
    "amount": amount,
    "pvalue": pvalue,
}
