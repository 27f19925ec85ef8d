"""Table 1: participants against comparison leaders at baseline, with standardised differences.

Standardised mean differences (SMD) follow ``tableone``: for a continuous variable
``(m1 - m0) / sqrt((s1^2 + s0^2) / 2)`` on the available values; for a categorical one the
multinomial SMD of Yang & Dalton (2012), ``sqrt(d' S^-1 d)`` over the level proportions (first
level dropped), which equals the binary formula for two levels. Percentages are of the
non-missing values; missing values are counted in a ``(missing)`` row. Counts below the minimum
reporting size are suppressed.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError
from coacheval.results import TableResult

__all__ = ["BaselineTable", "baseline_table", "smd_continuous", "study_baseline"]

MISSING_LEVEL = "(missing)"


def smd_continuous(x1: pd.Series, x0: pd.Series) -> float:
    """Standardised mean difference of a continuous variable (available cases).

    Examples
    --------
    >>> round(smd_continuous(pd.Series([1.0, 2, 3]), pd.Series([2.0, 3, 4])), 3)
    -1.0
    """
    a, b = x1.dropna().astype(float), x0.dropna().astype(float)
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else 0.0


def smd_categorical(x1: pd.Series, x0: pd.Series) -> float:
    """Multinomial standardised difference (Yang & Dalton 2012); absolute, as tableone reports.

    Examples
    --------
    >>> round(smd_categorical(pd.Series(["a", "a", "b"]), pd.Series(["a", "b", "b"])), 3)
    0.707
    """
    a, b = x1.dropna().astype(str), x0.dropna().astype(str)
    levels = sorted(set(a) | set(b))
    if len(levels) < 2:
        return 0.0
    p1 = np.array([(a == lv).mean() for lv in levels[1:]])
    p0 = np.array([(b == lv).mean() for lv in levels[1:]])
    diff = p1 - p0
    cov = -(np.outer(p1, p1) + np.outer(p0, p0)) / 2
    np.fill_diagonal(cov, (p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    value = float(diff @ np.linalg.pinv(cov) @ diff)
    return float(np.sqrt(max(value, 0.0)))


@dataclass(frozen=True)
class BaselineTable(TableResult):
    """Baseline characteristics by group.

    Attributes
    ----------
    table
        Tidy: ``variable, level, group, n, mean, sd, percent, suppressed`` (one row per group and
        variable, or per level of a categorical variable).
    smd
        ``variable, smd``.
    groups
        Group labels in display order (participants first) and their sizes.

    Examples
    --------
    Returned by :func:`baseline_table` (and :func:`study_baseline`):

    >>> import pandas as pd
    >>> from coacheval.measures.baseline import baseline_table
    >>> df = pd.DataFrame({"coached": [1, 1, 1, 0, 0, 0, 0],
    ...                    "age": [38, 45, 41, 50, 47, 55, 44],
    ...                    "role": ["charge", "manager", "manager", "charge", "manager",
    ...                             "director", "charge"]})
    >>> t = baseline_table(df, group_col="coached", continuous=["age"], categorical=["role"])
    >>> t.groups
    (('Participants', 3), ('Comparison', 4))
    >>> t.smd.round(2)
      variable   smd
    0      age -1.85
    1     role  1.11
    >>> t.table.query("variable == 'age'")[["group", "n", "mean", "sd"]].round(2)
              group  n   mean    sd
    0  Participants  3  41.33  3.51
    1    Comparison  4  49.00  4.69
    >>> t.display()
       Characteristic Participants (n=3) Comparison (n=4)    SMD
    0  age, mean (SD)         41.3 (3.5)       49.0 (4.7)  -1.85
    1     role, n (%)                                       1.11
    2          charge           1 (33.3)         2 (50.0)
    3        director            0 (0.0)         1 (25.0)
    4         manager           2 (66.7)         1 (25.0)
    """

    table: pd.DataFrame
    smd: pd.DataFrame
    groups: tuple[tuple[str, int], ...]
    min_cell: int = 0
    title: str = "Baseline characteristics"
    notes: tuple[str, ...] = field(default=())

    def display(self, digits: int = 1) -> pd.DataFrame:
        """Lay out for publication: a row per variable or level, a column per group, and SMD."""
        rows = []
        smd = dict(zip(self.smd.variable, self.smd.smd, strict=True))
        header = [f"{g} (n={n:,})" for g, n in self.groups]
        for variable in dict.fromkeys(self.table.variable):
            part = self.table[self.table.variable == variable]
            if part.level.isna().all():
                cells = []
                for g, _ in self.groups:
                    r = part[part.group == g].iloc[0]
                    cells.append(
                        f"{r['mean']:.{digits}f} ({r['sd']:.{digits}f})" if r["n"] > 0 else "–"
                    )
                rows.append([f"{variable}, mean (SD)", *cells, f"{smd[variable]:.2f}"])
                continue
            rows.append([f"{variable}, n (%)", *[""] * len(self.groups), f"{smd[variable]:.2f}"])
            for level in dict.fromkeys(part.level):
                cells = []
                for g, _ in self.groups:
                    r = part[(part.group == g) & (part.level == level)].iloc[0]
                    cells.append(
                        f"<{self.min_cell}"
                        if r["suppressed"]
                        else f"{int(r['n'])} ({r['percent']:.{digits}f})"
                    )
                rows.append([f"    {level}", *cells, ""])
        return pd.DataFrame(rows, columns=["Characteristic", *header, "SMD"])

    def as_html(self) -> str:
        """Render as a plain HTML table (pastes cleanly into Word)."""
        shown = self.display()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
            for row in shown.itertuples(index=False)
        )
        notes = "".join(f"<p><small>{html.escape(n)}</small></p>" for n in self.notes)
        return (
            f"<table class='coacheval-table1'><caption>{html.escape(self.title)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{notes}"
        )

    def as_markdown(self) -> str:
        """Render as a pipe table, for Quarto and Pandoc (which turn it into a Word table)."""
        shown = self.display()
        lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
        lines += [
            "| " + " | ".join(str(v).replace("|", "/") for v in row) + " |"
            for row in shown.itertuples(index=False)
        ]
        return "\n".join(lines) + "\n\n" + "\n".join(self.notes)

    def to_docx(self, path: str | Path) -> Path:
        """Write the table as a Word document (needs the ``report`` extra: pypandoc-binary)."""
        try:
            import pypandoc
        except ImportError as exc:
            raise ConfigError(
                "writing Word files needs pypandoc-binary (a coacheval dependency): reinstall coacheval"
            ) from exc
        path = Path(path)
        pypandoc.convert_text(
            f"# {self.title}\n\n{self.as_markdown()}",
            "docx",
            format="markdown",
            outputfile=str(path),
        )
        return path

    def _repr_html_(self) -> str:
        return self.as_html()


def baseline_table(
    data: pd.DataFrame,
    *,
    group_col: str,
    continuous: Sequence[str] = (),
    categorical: Sequence[str] = (),
    group_labels: tuple[str, str] = ("Participants", "Comparison"),
    min_cell: int = 0,
) -> BaselineTable:
    """Describe two groups side by side with standardised mean differences.

    Parameters
    ----------
    data
        One row per person.
    group_col
        1/True for participants, 0/False for the comparison group.
    continuous, categorical
        Variables to describe.
    group_labels
        Display names of the two groups.
    min_cell
        Counts from 1 to ``min_cell - 1`` are suppressed (the minimum reporting size).

    Returns
    -------
    BaselineTable

    Examples
    --------
    >>> df = pd.DataFrame({"g": [1, 1, 0, 0, 0], "age": [30, 40, 50, 45, 55], "role": list("abbab")})
    >>> t = baseline_table(df, group_col="g", continuous=["age"], categorical=["role"])
    >>> t.smd.round(2).to_dict("list")  # In R: tableone::ExtractSmd(CreateTableOne(...))
    {'variable': ['age', 'role'], 'smd': [-2.45, 0.34]}
    """
    missing = [c for c in (group_col, *continuous, *categorical) if c not in data]
    if missing:
        raise ConfigError(f"baseline_table: no column(s) {', '.join(missing)}")
    flag = data[group_col].astype(bool)
    groups = ((group_labels[0], data[flag]), (group_labels[1], data[~flag]))
    rows, smds = [], []
    for var in continuous:
        for label, frame in groups:
            x = pd.to_numeric(frame[var], errors="coerce").dropna()
            rows.append(
                {
                    "variable": var,
                    "level": None,
                    "group": label,
                    "n": len(x),
                    "mean": float(x.mean()) if len(x) else np.nan,
                    "sd": float(x.std(ddof=1)) if len(x) > 1 else np.nan,
                    "percent": np.nan,
                    "suppressed": False,
                }
            )
        smds.append(
            {
                "variable": var,
                "smd": smd_continuous(
                    pd.to_numeric(groups[0][1][var], errors="coerce"),
                    pd.to_numeric(groups[1][1][var], errors="coerce"),
                ),
            }
        )
    for var in categorical:
        levels = sorted(data[var].dropna().astype(str).unique())
        any_missing = bool(data[var].isna().any())
        for label, frame in groups:
            x = frame[var].dropna().astype(str)
            if any_missing:
                n_missing = int(frame[var].isna().sum())
                hide = 0 < n_missing < min_cell
                rows.append(
                    {
                        "variable": var,
                        "level": MISSING_LEVEL,
                        "group": label,
                        "n": np.nan if hide else n_missing,
                        "mean": np.nan,
                        "sd": np.nan,
                        "percent": np.nan,
                        "suppressed": hide,
                    }
                )
            for level in levels:
                n = int((x == level).sum())
                hide = 0 < n < min_cell
                rows.append(
                    {
                        "variable": var,
                        "level": level,
                        "group": label,
                        "n": np.nan if hide else n,
                        "mean": np.nan,
                        "sd": np.nan,
                        "percent": np.nan if hide else (100 * n / len(x) if len(x) else np.nan),
                        "suppressed": hide,
                    }
                )
        smds.append({"variable": var, "smd": smd_categorical(groups[0][1][var], groups[1][1][var])})
    notes = [
        "SMD: standardised mean difference (tableone conventions); |SMD| > 0.1 is a notable imbalance."
    ]
    if min_cell:
        notes.append(f"Counts below {min_cell} are suppressed.")
    return BaselineTable(
        pd.DataFrame(rows),
        pd.DataFrame(smds),
        tuple((label, len(frame)) for label, frame in groups),
        min_cell,
        notes=tuple(notes),
    )


def study_baseline(study: object, *, wave: str | None = None, min_cell: int = 0) -> BaselineTable:
    """Table 1 of a :class:`~coacheval.io.study.Study`: participants against the other leaders.

    The population is the leaders employed when the baseline wave opened (the first wave when
    ``wave`` is omitted). Participants are those ever enrolled in the program; the comparison is
    everyone else. Described: role level, age band, gender, race/ethnicity, highest degree,
    facility, FTE, tenure (years since hire when the wave opened) and the baseline score of every
    instrument (missing for leaders who did not answer that wave).

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.study import load_study
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=4, n_leaders=300).write(folder)
    >>> table = study_baseline(load_study(folder, key=PseudonymKey(b"k" * 32)))
    >>> [label for label, _ in table.groups]
    ['Participants', 'Comparison']
    """
    from coacheval.measures.scoring import score_instruments

    tables = study.tables  # type: ignore[attr-defined]
    roster, waves = tables["hr_roster"], tables["survey_waves"]
    waves = waves.sort_values("open_date")
    chosen = waves.iloc[0] if wave is None else waves.set_index("wave_id").loc[wave].rename(wave)
    wave_id = chosen["wave_id"] if wave is None else wave
    opened = chosen["open_date"]
    employed = roster[
        (roster.hire_date <= opened)
        & (roster.termination_date.isna() | (roster.termination_date > opened))
    ]
    data = employed.copy()
    data["participant"] = (
        data.employee_id.isin(tables["enrolment"].employee_id) if "enrolment" in tables else False
    )
    data["tenure_years"] = (opened - data.hire_date).dt.days / 365.25
    responses = tables.get("survey_responses")
    continuous = ["tenure_years", "fte"]
    if responses is not None and len(responses):
        scores = score_instruments(responses[responses.wave_id == wave_id], study.instruments)  # type: ignore[attr-defined]
        wide = scores.pivot_table(
            index="person", columns="construct", values="score", aggfunc="first"
        )
        for construct in wide.columns:
            data[f"baseline {construct}"] = data.employee_id.map(wide[construct])
            continuous.append(f"baseline {construct}")
    categorical = [
        c
        for c in (
            "role_level",
            "age_band",
            "gender",
            "race_ethnicity",
            "highest_degree",
            "facility_id",
        )
        if c in data
    ]
    table = baseline_table(
        data,
        group_col="participant",
        continuous=[c for c in continuous if c in data],
        categorical=categorical,
        min_cell=min_cell,
    )
    note = (
        f"Leaders employed when wave {wave_id} opened ({opened:%Y-%m-%d}); participants were ever enrolled. "
        "Baseline scores are missing for leaders who did not answer that wave."
    )
    return BaselineTable(
        table.table, table.smd, table.groups, table.min_cell, notes=(note, *table.notes)
    )
