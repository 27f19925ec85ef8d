"""Dates as extracts write them: ISO, US or European slashes, Excel serial numbers.

The rules, applied per column:

* ``YYYY-MM-DD`` (optionally followed by a time) and ``YYYY/MM/DD`` are read as they are.
* A whole number between 1 and 2,958,465 in a date column is an Excel serial date (1900 date
  system: day 1 is 1900-01-01, with Excel's phantom 1900-02-29, so serial ``n`` is
  1899-12-30 + ``n`` days for ``n`` > 60).
* ``a/b/YYYY`` or ``a-b-YYYY`` needs a day/month order. The configured ``date_order`` wins.
  Without it the column decides: a first number above 12 means day first, a second number above
  12 means month first, and the decision and the row that proved it are reported. A column
  whose slash dates are all ambiguous (both numbers 12 or below), or that proves both orders, is
  not guessed: those values stay unparsed and validation reports them.
* Anything else stays as it is, and validation reports it as not a date.

The parser is a step of :func:`coacheval.io.validate.validate_folder` (the extract config's
``date_order`` is how users steer it); the module has no public API, so its ``__all__`` is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

__all__: list[str] = []

DateOrder = Literal["mdy", "dmy"]
_ISO = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T].*)?$")
_SLASH = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?: .*)?$")
_SERIAL = re.compile(r"^\d{1,7}(?:\.0+)?$")
EXCEL_EPOCH = np.datetime64("1899-12-30")


@dataclass
class DateParse:
    """Result of reading one date column.

    Attributes
    ----------
    values
        ISO ``YYYY-MM-DD`` text where the value could be read, the original text otherwise.
    notes
        Decisions taken (order inferred, serial dates converted).
    ambiguous
        Positions of slash dates left unparsed because the order is unknown.
    """

    values: pd.Series
    notes: list[str] = field(default_factory=list)
    ambiguous: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    order_problem: str = ""


def _iso(y: pd.Series, m: pd.Series, d: pd.Series) -> pd.Series:
    text = y.str.zfill(4) + "-" + m.str.zfill(2) + "-" + d.str.zfill(2)
    valid = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").notna()
    return text.where(valid, None)


def parse_date_column(
    values: pd.Series,
    *,
    order: DateOrder | None = None,
    row_numbers: np.ndarray | None = None,
    column: str = "",
) -> DateParse:
    """Convert one column of date text to ISO dates following the module's rules.

    Parameters
    ----------
    values
        Text cells (``None`` when empty).
    order
        ``"mdy"`` or ``"dmy"`` for slash dates; inferred from the column when omitted.
    row_numbers
        File row numbers, to name the row that decided the order.
    column
        Column name, for the notes.

    Returns
    -------
    DateParse

    Examples
    --------
    >>> s = pd.Series(["2024-03-01", "03/13/2024", "45292", None])
    >>> parse_date_column(s, column="hire_date").values.tolist()
    ['2024-03-01', '2024-03-13', '2024-01-01', None]
    >>> parse_date_column(pd.Series(["03/04/2024"])).order_problem
    'ambiguous'
    """
    text = values.astype(object).where(values.notna(), None)
    out = text.copy()
    result = DateParse(out)
    present = text.notna().to_numpy()
    if not present.any():
        result.ambiguous = np.zeros(len(text), dtype=bool)
        return result
    s = text[present].astype(str).str.strip()
    strict = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
    if strict.notna().all() and (s.str.len() == 10).all():
        result.ambiguous = np.zeros(len(text), dtype=bool)
        out.loc[present] = s.to_numpy()
        result.values = out
        return result  # every value is already an ISO date: the common case, done at C speed
    iso = s.str.extract(_ISO)
    is_iso = iso[0].notna()
    if is_iso.any():
        converted = _iso(iso.loc[is_iso, 0], iso.loc[is_iso, 1], iso.loc[is_iso, 2])
        s.loc[converted.index[converted.notna()]] = converted[converted.notna()]
    serial = s.str.fullmatch(_SERIAL) & ~is_iso
    if serial.any():
        n = s[serial].astype(float).astype(np.int64)
        ok = (n >= 1) & (n <= 2_958_465)
        days = np.where(n > 60, n, n + 1)  # Excel's phantom 1900-02-29
        dates = (EXCEL_EPOCH + days.astype("timedelta64[D]")).astype(str)
        s.loc[serial[serial].index[ok.to_numpy()]] = dates[ok.to_numpy()]
        result.notes.append(f"{column}: {int(ok.sum())} Excel serial date(s) converted")
    slash = s.str.extract(_SLASH)
    is_slash = slash[0].notna() & ~is_iso & ~serial
    ambiguous = pd.Series(False, index=s.index)
    if is_slash.any():
        a = slash.loc[is_slash, 0].astype(int)
        b = slash.loc[is_slash, 1].astype(int)
        chosen = order
        if chosen is None:
            day_first = a > 12
            month_first = b > 12

            def where(mask: pd.Series) -> int | None:
                if row_numbers is None:
                    return None
                positions = np.flatnonzero(is_slash.to_numpy())[mask.to_numpy()]
                return int(row_numbers[present][positions[0]])

            if day_first.any() and month_first.any():
                result.order_problem = "mixed"
                result.notes.append(
                    f"{column}: slash dates use both day-first and month-first order; "
                    "set date_order in the config"
                )
            elif month_first.any():
                chosen = "mdy"
                row = where(month_first)
                result.notes.append(
                    f"{column}: slash dates read as MM/DD/YYYY"
                    + (f" (row {row} has a day above 12 in second place)" if row else "")
                )
            elif day_first.any():
                chosen = "dmy"
                row = where(day_first)
                result.notes.append(
                    f"{column}: slash dates read as DD/MM/YYYY"
                    + (f" (row {row} has a day above 12 in first place)" if row else "")
                )
            else:
                result.order_problem = "ambiguous"
                result.notes.append(
                    f"{column}: slash dates are ambiguous (day and month both 12 or "
                    "below); set date_order: mdy or dmy in the config"
                )
        if chosen is not None:
            month, day = (
                (slash.loc[is_slash, 0], slash.loc[is_slash, 1])
                if chosen == "mdy"
                else (slash.loc[is_slash, 1], slash.loc[is_slash, 0])
            )
            converted = _iso(slash.loc[is_slash, 2], month, day)
            good = converted.notna()
            s.loc[converted.index[good]] = converted[good]
        else:
            ambiguous.loc[is_slash[is_slash].index] = True
    out.loc[present] = s.to_numpy()
    result.values = out
    amb = np.zeros(len(text), dtype=bool)
    amb[np.flatnonzero(present)] = ambiguous.to_numpy()
    result.ambiguous = amb
    return result
