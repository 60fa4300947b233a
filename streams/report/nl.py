"""Dutch number, month and list formatting for the report (no locale needed, so output is fixed).

Percentages get a comma decimal and a no-break space before the % sign ("88,0 %"), thousands a
dot ("1.232"), changes a sign ("+3,2" / "−1,0", with a real minus sign).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from streams.export.indicators import Month

NBSP = "\u00a0"
MINUS = "\u2212"
DASH = "\u2013"  # a missing value in a table

MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
SHORT_MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def month_name(month: Month) -> str:
    """`maart 2024`."""
    return f"{MONTHS[month.month - 1]} {month.year}"


def short_month(month: Month) -> str:
    """`mrt '24`, for chart axes."""
    return f"{SHORT_MONTHS[month.month - 1]} '{month.year % 100:02d}"


def table_month(month: Month) -> str:
    """`mrt 2024`, for table rows."""
    return f"{SHORT_MONTHS[month.month - 1]} {month.year}"


def integer(value: int) -> str:
    """`1.232`."""
    return f"{value:,}".replace(",", ".")


def decimal(value: Decimal | int, places: int = 1) -> str:
    """`88,0` (half up to `places`), thousands with a dot."""
    quantum = Decimal(1).scaleb(-places)
    rounded = Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)
    sign = MINUS if rounded < 0 else ""
    whole, _, fraction = f"{abs(rounded):f}".partition(".")
    text = integer(int(whole))
    return f"{sign}{text},{fraction}" if fraction else f"{sign}{text}"


def percent(value: Decimal | int, places: int = 1) -> str:
    """`88,0 %`."""
    return f"{decimal(value, places)}{NBSP}%"


def whole_percent(value: Decimal, *, below: Decimal | None = None) -> str:
    """A percentage for running text: whole (`88 %`), unless rounding would hide a miss.

    With `below` (a target the value misses), a value that rounds up to the target or past it is
    cut off to one decimal instead (89.96 → `89,9 %`), so the text never says "90 %, norm 90 %".
    """
    rounded = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if below is not None and value < below <= rounded:
        return f"{decimal(value.quantize(Decimal('0.1'), rounding=ROUND_DOWN))}{NBSP}%"
    return f"{decimal(rounded, 0)}{NBSP}%"


def change(value: Decimal | None, places: int = 1) -> str:
    """`+3,2`, `−1,0`, `0,0`, or a dash when unknown."""
    if value is None:
        return DASH
    text = decimal(value, places)
    return text if text.startswith(MINUS) or Decimal(value).is_zero() else f"+{text}"


def join(words: Sequence[str]) -> str:
    """`a`, `a en b`, `a, b en c`."""
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} en {words[-1]}"


def plural(count: int, one: str, many: str) -> str:
    """`1 melding`, `38 meldingen`."""
    return f"{integer(count)} {one if count == 1 else many}"
