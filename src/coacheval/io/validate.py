"""Row-accounted validation of a folder of extracts against the data contract.

For every table: read its files, map their columns to the contract, repair what has a stated
repair (lost leading zeros, dates in other forms), pseudonymise person identifiers, then check
with pandera — lazily, so every problem is found in one pass:

1. text checks (required, whole number, number, date, allowed values, patterns);
2. typed checks (ranges, keys, foreign keys, the cross-column and cross-table rules);
3. warning checks (suspicious but usable).

Every input row ends up in the clean table or in the quarantine with every reason; rows in =
clean + quarantined for every table, always. Warnings never quarantine a row.

Stated handling, beyond the schema constraints:

* Exact duplicate rows: the first is kept, later copies are quarantined (``duplicate_row``).
* A survey answer that is not a response option of its item (an unknown label, an out-of-range
  code) is removed from that response and reported (``item_value``); the response is kept.
* Qualtrics rows whose status is not a real response (survey previews, spam) are quarantined.
* Survey responses without a wave are given the wave whose field period holds their date.
* Columns outside the contract are dropped with a warning; personal-data columns (names,
  e-mail, phone numbers, IP addresses) are dropped, and never reach any output.
* A missing required column makes every row of that file fail (``missing_column``).
* Foreign keys are checked against every row of the parent file, kept or quarantined, so one
  bad roster row does not cascade; a reference to a quarantined parent row is a warning.

Examples
--------
Tables are validated parents first (:data:`TABLE_ORDER`), and every clean or quarantined row
keeps the file and line it came from in the lineage columns (:data:`LINEAGE`):

>>> from coacheval.io.validate import LINEAGE, TABLE_ORDER
>>> TABLE_ORDER[:4]
('program_cohorts', 'survey_waves', 'hr_roster', 'hr_snapshot')
>>> LINEAGE
('_file', '_row')
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from coacheval.errors import CoachevalError
from coacheval.io.checks import (
    MESSAGES,
    ProblemCollector,
    check_name,
    run_schema,
    text_schema,
    typed_frame,
)
from coacheval.io.columns import TABLE_ORDER, find_files, map_columns, strip_cells, survey_items
from coacheval.io.config import ExtractConfig
from coacheval.io.dates import parse_date_column
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.raw import Problem, RawTable
from coacheval.io.readers import QUALTRICS_RESPONSE_STATUS, read_any
from coacheval.io.results import TableValidation, ValidationReport
from coacheval.io.rules import RULES, RuleContext
from coacheval.io.schema import TableSchema, load_table_schemas
from coacheval.measures.instruments import Instrument, load_instruments

#: Lineage columns of every clean and quarantine table: the file a row came from and its line
#: number in that file (the header is line 1).
LINEAGE = ("_file", "_row")


__all__ = [
    "LINEAGE",
    "TABLE_ORDER",
    "TableValidation",
    "TableValidator",
    "ValidationReport",
    "find_files",
    "validate_folder",
]


class TableValidator:
    """Validate one table's files (see the module docstring for the rules).

    Examples
    --------
    :func:`validate_folder` runs one validator per table, parents first (:data:`TABLE_ORDER`).
    One table's files can be checked on their own:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from coacheval.io.config import ExtractConfig
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.rules import RuleContext
    >>> from coacheval.io.schema import load_table_schemas
    >>> from coacheval.io.validate import TableValidator
    >>> path = Path(tempfile.mkdtemp()) / "program_cohorts.csv"
    >>> pd.DataFrame({"cohort_id": ["C1", "C2"], "start_date": ["2024-01-08", "2024-09-02"],
    ...               "end_date": ["2024-06-28", "2024-02-01"], "planned_sessions": [12, 0]},
    ...              ).to_csv(path, index=False)
    >>> spec = load_table_schemas()["program_cohorts"]
    >>> validator = TableValidator(spec, ExtractConfig(), PseudonymKey(b"k" * 32), {},
    ...                            RuleContext(), {})
    >>> result = validator.validate([path])
    >>> result.rows_in, result.rows_clean, result.rows_quarantined
    (2, 1, 1)
    >>> result.clean
      cohort_id start_date   end_date  planned_sessions                _file  _row
    0        C1 2024-01-08 2024-06-28                12  program_cohorts.csv     2
    >>> for reason in result.quarantine.loc[0, "reasons"].split("; "):
    ...     print(reason)
    cohort_end_after_start: end_date must be after start_date
    range: 0 is outside the allowed range 1 to 200
    """

    def __init__(
        self,
        spec: TableSchema,
        config: ExtractConfig,
        key: PseudonymKey,
        instruments: Mapping[str, Instrument],
        context: RuleContext,
        parents: Mapping[str, pd.DataFrame],
    ) -> None:
        self.spec = spec
        self.config = config
        self.tcfg = config.table(spec.name)
        self.key = key
        self.items = survey_items(instruments) if spec.item_fields_from == "instruments" else {}
        self.context = context
        self.parents = parents

    # -- reading -----------------------------------------------------------------------
    def _read(self, paths: list[Path]) -> tuple[list[RawTable], list[Problem], list[str]]:
        raws, problems, notes = [], [], []
        for path in paths:
            try:
                if self.tcfg.format == "redcap":
                    from coacheval.io.redcap import read_redcap

                    raw = read_redcap(
                        path, path.parent / str(self.tcfg.dictionary), table=self.spec.name
                    )
                else:
                    raw = read_any(
                        path,
                        table=self.spec.name,
                        sheet=self.tcfg.sheet,
                        encoding=self.tcfg.encoding,
                        delimiter=self.tcfg.delimiter,
                        fmt=self.tcfg.format,
                    )
            except CoachevalError as exc:
                problems.append(
                    Problem(
                        self.spec.name,
                        path.name,
                        0,
                        "",
                        "",
                        "unreadable_file",
                        str(exc),
                        "error",
                        "table unusable",
                    )
                )
                continue
            notes.extend(f"{raw.source}: {n}" for n in raw.notes)
            raws.append(raw)
        return raws, problems, notes

    def validate(self, paths: list[Path]) -> TableValidation:
        """Read, repair, pseudonymise and check the table; return its validation."""
        spec = self.spec
        raws, file_problems, notes = self._read(paths)
        extra = set(self.items) | ({"qualtrics_status"} if self.items else set())
        frames, labels, rejected = [], [], []
        for k, raw in enumerate(raws):
            frame, label_map, problems, _ = map_columns(raw, spec, self.tcfg, extra, spec.name)
            file_problems.extend(problems)
            frame = frame.assign(_file=raw.source, _row=raw.row_numbers, _fileno=k)
            missing = [f for f in spec.required_fields if f not in frame.columns]
            if (
                spec.name == "survey_responses"
                and "wave_id" in missing
                and "response_date" in frame.columns
            ):
                missing.remove("wave_id")  # assigned from the wave windows below
            for col in missing:
                frame[f"_missing_{col}"] = True
            frames.append(frame)
            labels.append(label_map)
            rejected.extend(
                Problem(
                    spec.name,
                    p.file,
                    p.row,
                    p.column,
                    p.value,
                    p.rule,
                    p.message,
                    "error",
                    "quarantined",
                )
                for p in raw.rejected
            )
        rows_in = sum(r.rows_in for r in raws)
        all_cols = [*spec.field_names, *sorted(extra)]
        if frames:
            data = pd.concat(frames, ignore_index=True)
        else:
            data = pd.DataFrame(
                {c: pd.Series(dtype=object) for c in [*all_cols, *LINEAGE, "_fileno"]}
            )
        for col in all_cols:
            if col not in data:
                data[col] = None
        data = data.reset_index(drop=True)
        files = data["_file"].to_numpy()
        rows = data["_row"].to_numpy(dtype=np.int64)
        col = ProblemCollector(
            spec.name, files, rows, labels, data["_fileno"].to_numpy(dtype=np.int64)
        )
        self._missing_columns(data, col)
        text = self._normalise(data, col, notes)
        self._text_checks(text, col)
        text = self._pseudonymise(text)
        self._duplicates(text, col)
        typed = typed_frame(text, spec, set(self.items))
        self._typed_checks(typed, col)
        clean_mask = ~col.bad
        keep = [c for c in all_cols if c in typed and (c in spec.field_names or c in self.items)]
        keep = [c for c in keep if c not in spec.pii_fields and c != "qualtrics_status"]
        present = [c for c in keep if data[c].notna().any() or c in spec.required_fields]
        clean = typed.loc[clean_mask, [*present, *LINEAGE]].reset_index(drop=True)
        quarantine = text.loc[~clean_mask, [*present, *LINEAGE]].copy()
        by_row: dict[tuple[str, int], list[str]] = {}
        for p in col.problems:
            if p.action == "quarantined":
                by_row.setdefault((p.file, p.row), []).append(f"{p.rule}: {p.message}")
        quarantine["reasons"] = [
            "; ".join(by_row.get((f, int(r)), []))
            for f, r in zip(quarantine["_file"], quarantine["_row"], strict=True)
        ]
        reject_frame = pd.DataFrame(
            {
                "_file": [p.file for p in rejected],
                "_row": [p.row for p in rejected],
                "reasons": [f"{p.rule}: {p.message}" for p in rejected],
            }
        )
        quarantine = (
            pd.concat([quarantine, reject_frame], ignore_index=True) if rejected else quarantine
        )
        quarantine = quarantine.reset_index(drop=True)
        problems = [*file_problems, *rejected, *col.problems]
        result = TableValidation(
            spec.name, [p.name for p in paths], rows_in, clean, quarantine, problems, notes
        )
        if result.rows_clean + result.rows_quarantined != rows_in:
            raise RuntimeError(
                f"row accounting failed for {spec.name}: {rows_in} in, "
                f"{result.rows_clean} clean + {result.rows_quarantined} quarantined"
            )
        unreadable = [p for p in file_problems if p.action == "table unusable"]
        share = result.rows_quarantined / rows_in if rows_in else 0.0
        if unreadable and not raws:
            result.unusable_reason = unreadable[0].message
        elif rows_in == 0:
            result.unusable_reason = "the file has a header but no data rows"
        elif share > self.config.max_quarantine_share:
            result.unusable_reason = (
                f"{result.rows_quarantined} of {rows_in} rows ({share:.1%}) quarantined, "
                f"above the limit of {self.config.max_quarantine_share:.0%}"
            )
        elif unreadable:
            result.unusable_reason = "; ".join(p.message for p in unreadable)
        return result

    # -- steps ---------------------------------------------------------------------------
    def _missing_columns(self, data: pd.DataFrame, col: ProblemCollector) -> None:
        for name in [c for c in data.columns if c.startswith("_missing_")]:
            field_name = name[len("_missing_") :]
            pos = np.flatnonzero(data[name].fillna(False).to_numpy(dtype=bool))
            col.reported.update((int(p), field_name) for p in pos)
            col.add(
                pos,
                "",
                [""] * len(pos),
                "missing_column",
                f"the file has no {field_name!r} column, which is required",
            )
            data.drop(columns=name, inplace=True)

    def _normalise(
        self, data: pd.DataFrame, col: ProblemCollector, notes: list[str]
    ) -> pd.DataFrame:
        spec = self.spec
        text = data.copy()
        for c in [*spec.field_names, *self.items, "qualtrics_status"]:
            if c not in text:
                continue
            text[c] = strip_cells(text[c])
        for c, mapping in self.tcfg.values.items():
            if c in text:
                text[c] = text[c].map(lambda v, m=mapping: m.get(v, v) if v is not None else None)
        if self.config.id_width:
            for c in spec.person_id_fields:
                s = text[c]
                short = (
                    s.notna()
                    & s.astype(str).str.fullmatch(r"\d+")
                    & (s.astype(str).str.len() < self.config.id_width)
                )
                pos = np.flatnonzero(short.to_numpy(dtype=bool))
                if len(pos):
                    col.add(
                        pos,
                        c,
                        [self.key.pseudonym(v.zfill(self.config.id_width)) for v in s.iloc[pos]],
                        "leading_zeros_restored",
                        f"id had lost its leading zeros; padded to {self.config.id_width} digits",
                        "warning",
                        "repaired",
                    )
                    text.loc[short, c] = s[short].str.zfill(self.config.id_width)
        order = self.config.date_order_for(spec.name)
        for f in spec.fields:
            if f.type != "date" or f.name not in text:
                continue
            parsed = parse_date_column(
                text[f.name], order=order, row_numbers=data["_row"].to_numpy(), column=f.name
            )
            text[f.name] = parsed.values
            notes.extend(parsed.notes)
            pos = np.flatnonzero(parsed.ambiguous)
            col.reported.update((int(p), f.name) for p in pos)
            kind = (
                "mixed day/month orders"
                if parsed.order_problem == "mixed"
                else "ambiguous day/month order"
            )
            col.add(
                pos,
                f.name,
                text[f.name].iloc[pos].tolist(),
                "ambiguous_date",
                f"{kind}: set date_order (mdy or dmy) in the config; coacheval does not guess",
            )
        if self.items:
            self._survey_specifics(text, col)
        return text

    def _survey_specifics(self, text: pd.DataFrame, col: ProblemCollector) -> None:
        if "qualtrics_status" in text:
            status = text["qualtrics_status"]
            bad = status.notna() & ~status.isin(QUALTRICS_RESPONSE_STATUS)
            pos = np.flatnonzero(bad.to_numpy(dtype=bool))
            col.add(
                pos,
                "qualtrics_status",
                status.iloc[pos].tolist(),
                "not_a_response",
                [
                    f"Qualtrics status {v!r}: a preview or test, not a respondent"
                    for v in status.iloc[pos]
                ],
            )
        for item, (inst, labels) in self.items.items():
            if item not in text:
                continue
            s = text[item]
            present = s.notna()
            if not present.any():
                continue
            values = s[present].astype(str)
            by_label = values.str.lower().map(labels)
            numeric = pd.to_numeric(values, errors="coerce")
            as_code = numeric.where(
                (numeric % 1 == 0) & numeric.between(inst.scale_min, inst.scale_max)
            )
            code = by_label.fillna(as_code)
            invalid = code.isna()
            if invalid.any():
                pos = np.flatnonzero(present.to_numpy())[invalid.to_numpy()]
                col.add(
                    pos,
                    item,
                    values[invalid].tolist(),
                    "item_value",
                    [
                        f"{v!r} is not a response option of {inst.short_name} "
                        f"({inst.scale_min}-{inst.scale_max} or its labels); answer removed"
                        for v in values[invalid]
                    ],
                    "error",
                    "value removed",
                )
            out = pd.Series(None, index=s.index, dtype=object)
            out[present] = code.map(lambda v: None if pd.isna(v) else str(int(v))).to_numpy()
            text[item] = out
        if text["wave_id"].isna().any() and "survey_waves" in self.context.tables:
            waves = self.context.tables["survey_waves"]
            missing = text["wave_id"].isna() & text["response_date"].notna()
            dates = pd.to_datetime(
                text.loc[missing, "response_date"], format="%Y-%m-%d", errors="coerce"
            )
            assigned = pd.Series(None, index=dates.index, dtype=object)
            for w in waves.itertuples():
                inside = (dates >= w.open_date) & (dates <= w.close_date)
                assigned[inside & assigned.isna()] = w.wave_id
            text.loc[missing, "wave_id"] = assigned
            unplaced = missing & text["wave_id"].isna()
            pos = np.flatnonzero(unplaced.to_numpy(dtype=bool))
            col.add(
                pos,
                "response_date",
                text["response_date"].iloc[pos].tolist(),
                "no_wave",
                "the response date is in no wave's field period, so its wave is unknown",
            )

    def _text_checks(self, text: pd.DataFrame, col: ProblemCollector) -> None:
        spec = self.spec
        cases = run_schema(text_schema(spec, list(text.columns)), text)
        for r in cases.itertuples():
            if (int(r.index), r.column) in col.reported:
                continue
            name = check_name(r.check)
            f = spec.field(r.column)
            value = r.failure_case
            if f.role == "person_id" and isinstance(value, str):
                value = self.key.pseudonym(value)
            message = MESSAGES.get(name, "{val!r} fails " + name).format(
                col=r.column,
                val=value,
                allowed=", ".join(f.enum or ()),
                lo=f.minimum,
                hi=f.maximum,
                key="",
            )
            col.add(
                np.array([r.index]),
                r.column,
                [value],
                "required" if name == "not_nullable" else name,
                message,
            )

    def _pseudonymise(self, text: pd.DataFrame) -> pd.DataFrame:
        out = text.copy()
        for c in self.spec.person_id_fields:
            out[c] = self.key.apply(out[c])
        return out

    def _duplicates(self, text: pd.DataFrame, col: ProblemCollector) -> None:
        content = [c for c in text.columns if c not in (*LINEAGE, "_fileno")]
        dup = text.duplicated(subset=content, keep="first").to_numpy()
        if dup.any():
            pos = np.flatnonzero(dup)
            key = text[content].astype(str).agg("\x1f".join, axis=1)
            first_row = key.map(dict(zip(key[~dup], text.loc[~dup, "_row"], strict=True)))
            col.add(
                pos,
                "",
                [""] * len(pos),
                "duplicate_row",
                [f"exact copy of row {int(r)}" for r in first_row.iloc[pos]],
            )

    def _typed_checks(self, typed: pd.DataFrame, col: ProblemCollector) -> None:
        spec = self.spec
        ok_rows = ~col.bad
        frame = typed.loc[ok_rows]
        columns: dict[str, pa.Column] = {}
        warn_columns: dict[str, pa.Column] = {}
        for f in spec.fields:
            if f.name not in frame:
                continue
            checks = []
            if f.minimum is not None or f.maximum is not None:
                lo = f.minimum if f.minimum is not None else -np.inf
                hi = f.maximum if f.maximum is not None else np.inf
                checks.append(pa.Check(lambda v, a=lo, b=hi: v.between(a, b), name="range"))
            columns[f.name] = pa.Column(checks=checks, nullable=True, required=False, coerce=False)
        for fk in spec.foreign_keys:
            if len(fk.fields) != 1:
                continue
            child = fk.fields[0]
            parent_all = self.parents.get(fk.resource)
            if parent_all is None or child not in frame:
                continue
            keys = set(parent_all[fk.reference_fields[0]].dropna())
            name = f"foreign_key:{fk.resource}"
            columns.setdefault(child, pa.Column(nullable=True, required=False))
            columns[child] = pa.Column(
                checks=[*columns[child].checks, pa.Check(lambda s, k=keys: s.isin(k), name=name)],
                nullable=True,
                required=False,
            )
            clean_parent = self.context.tables.get(fk.resource)
            if clean_parent is not None:
                kept = set(clean_parent[fk.reference_fields[0]].dropna())
                warn_columns[child] = pa.Column(
                    checks=[
                        pa.Check(
                            lambda s, k=kept, a=keys: s.isin(k) | ~s.isin(a),
                            name=f"parent_quarantined:{fk.resource}",
                        )
                    ],
                    nullable=True,
                    required=False,
                )
        rule_checks: dict[str, list[tuple[str, str]]] = {}
        for rule in spec.rules:
            fn = RULES.get(rule.name)
            if fn is None:
                raise RuntimeError(f"{spec.name}: rule {rule.name!r} has no implementation")
            try:
                column, _ = fn(frame, self.context)
            except KeyError:
                continue
            rule_checks.setdefault(column, []).append((rule.name, rule.severity))
        for column, rules in rule_checks.items():
            for rule_name, severity in rules:
                check = pa.Check(
                    lambda s, r=rule_name: RULES[r](frame, self.context)[1].loc[s.index],
                    name=rule_name,
                )
                target = columns if severity == "error" else warn_columns
                base = target.get(column, pa.Column(nullable=True, required=False))
                target[column] = pa.Column(
                    checks=[*base.checks, check], nullable=True, required=False
                )
        pk = [c for c in spec.primary_key if c in frame]
        unique = pk if len(pk) == len(spec.primary_key) and pk else None
        errors = run_schema(
            pa.DataFrameSchema(columns, unique=unique, report_duplicates="exclude_first"), frame
        )
        self._add_cases(errors, col, "error")
        warnings = run_schema(pa.DataFrameSchema(warn_columns), frame)
        self._add_cases(warnings, col, "warning")

    def _add_cases(self, cases: pd.DataFrame, col: ProblemCollector, severity: str) -> None:
        spec = self.spec
        descriptions = {r.name: r.description for r in spec.rules}
        seen: set[tuple[int, str]] = set()
        for r in cases.itertuples():
            name = check_name(r.check)
            if (r.index, name) in seen:
                continue
            seen.add((r.index, name))
            column = r.column if r.column in spec.field_names else ""
            value = r.failure_case
            if isinstance(value, pd.Timestamp):
                value = value.date().isoformat()
            if name == "unique":
                message = MESSAGES["unique"].format(key=", ".join(spec.primary_key))
                column = spec.primary_key[0]
                rule = "duplicate_key"
            elif name == "range":
                f = spec.field(r.column)
                message = MESSAGES["range"].format(val=value, lo=f.minimum, hi=f.maximum)
                rule = "range"
            elif name.startswith("foreign_key:"):
                parent = name.split(":", 1)[1]
                message = f"{value!r} is not in {parent}"
                rule = "foreign_key"
            elif name.startswith("parent_quarantined:"):
                parent = name.split(":", 1)[1]
                message = f"{value!r} refers to a {parent} row that was quarantined"
                rule = "parent_quarantined"
            else:
                message = descriptions.get(name, name)
                rule = name
            col.add(np.array([r.index]), column, [value], rule, message, severity)


def validate_folder(
    folder: str | Path,
    *,
    key: PseudonymKey,
    config: ExtractConfig | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    schemas: Mapping[str, TableSchema] | None = None,
) -> ValidationReport:
    """Validate every extract in a folder.

    Parameters
    ----------
    folder
        Folder of extract files.
    key
        Pseudonym key (see :class:`~coacheval.io.pseudonymise.PseudonymKey`).
    config
        How the files map onto the contract; defaults find files by name.
    instruments, schemas
        Instrument definitions and table schemas; coacheval's own when omitted.

    Returns
    -------
    ValidationReport

    Raises
    ------
    ConfigError
        The folder does not exist or holds no extract coacheval recognises.

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=3, n_leaders=120).write(folder)
    >>> report = validate_folder(folder, key=PseudonymKey(b"k" * 32))
    >>> report.usable, report.tables["hr_roster"].rows_quarantined
    (True, 0)
    """
    from coacheval.errors import ConfigError

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError("the extract folder does not exist", source=str(folder))
    config = config or ExtractConfig()
    instruments = instruments or load_instruments()
    schemas = schemas or load_table_schemas()
    found, ignored = find_files(folder, config)
    if not found:
        raise ConfigError(
            "no extract found (expected files such as hr_roster.csv, survey_responses.csv)",
            source=str(folder),
        )
    context = RuleContext(group_size=config.group_size)
    parents: dict[str, pd.DataFrame] = {}
    tables: dict[str, TableValidation] = {}
    for name in TABLE_ORDER:
        if name not in found:
            continue
        validator = TableValidator(schemas[name], config, key, instruments, context, parents)
        result = validator.validate(found[name])
        tables[name] = result
        context.tables = {**context.tables, name: result.clean}
        referenced = [
            c
            for spec in schemas.values()
            for fk in spec.foreign_keys
            if fk.resource == name
            for c in fk.reference_fields
        ]
        key_columns = [
            c
            for c in dict.fromkeys([*schemas[name].primary_key, *referenced])
            if c in result.clean.columns
        ]
        parts = [
            f[key_columns]
            for f in (result.clean, result.quarantine)
            if len(f) and set(key_columns) <= set(f)
        ]
        parents[name] = pd.concat(parts, ignore_index=True) if parts else result.clean[key_columns]
    if "hr_roster" not in tables and "hr_snapshot" not in tables:
        tables.setdefault(
            "hr_roster",
            TableValidation(
                "hr_roster",
                [],
                0,
                pd.DataFrame(),
                pd.DataFrame(),
                unusable_reason="no HR roster or snapshot file was found",
            ),
        )
    return ValidationReport(
        str(folder), tables, ignored, key.fingerprint, config.max_quarantine_share
    )
