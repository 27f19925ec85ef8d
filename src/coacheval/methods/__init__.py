"""Methods appendix: what every coacheval estimator estimates, how, and how it was checked.

The content lives in ``methods.yaml`` beside this module (shipped in the wheel), one entry per
estimator: the estimand, the assumptions, the formula or algorithm, the reference implementation
it was checked against with the tolerance and the largest difference observed (copied from the
test that makes the check, which :mod:`tests.test_methods_appendix` keeps honest), the
simulation check, the references and the coacheval functions that implement it.

:func:`load_methods` returns the entries, :func:`methods_markdown` writes them as Markdown for a
paper's methods section, the documentation site and the technical report (math as ``$...$`` and
``$$...$$``, in a subset of TeX that Pandoc converts for HTML, Typst and Word alike and MyST's
``dollarmath`` renders), and :func:`methods_for_results` picks the entries an evaluation used.

Examples
--------
>>> from coacheval.methods import load_methods, methods_markdown
>>> methods = {m.id: m for m in load_methods()}
>>> methods["cox_time_varying"].used_by
('coacheval.retention.cox.fit_cox',)
>>> print(methods_markdown(["rates"], heading_level=3).splitlines()[0])
### Turnover rates per person-time with exact Poisson limits, and rate ratios
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from coacheval.errors import ConfigError

__all__ = [
    "Check",
    "Method",
    "load_methods",
    "methods_for_results",
    "methods_markdown",
]

_FIELDS = (
    "id",
    "title",
    "estimand",
    "assumptions",
    "method",
    "checked_against",
    "references",
    "used_by",
)


@dataclass(frozen=True)
class Check:
    """One comparison of an estimator with a reference: what, where, how close, how close it was.

    Attributes
    ----------
    reference
        The reference implementation or truth (R package, function and version; a published
        value; a closed form; a second implementation).
    test_file
        The test that makes the comparison, relative to the repository root
        (``tests/test_cox_vs_r.py``).
    tolerance
        The tolerance the test applies, as stated in that test.
    observed
        The largest difference observed, as recorded in that test (or the reason none is).
    anchor
        Text that appears literally in ``test_file`` where the tolerance is set (by default the
        tolerance itself), so that the appendix cannot drift from the test.

    Examples
    --------
    >>> c = Check("R survival::coxph", "tests/test_cox_vs_r.py", "rtol 1e-11", "1.1e-13")
    >>> c.anchor
    'rtol 1e-11'
    """

    reference: str
    test_file: str
    tolerance: str
    observed: str
    anchor: str = ""

    def __post_init__(self) -> None:
        if not self.anchor:
            object.__setattr__(self, "anchor", self.tolerance)

    def markdown(self) -> str:
        """Return the check as one Markdown sentence (a list item without its bullet).

        Examples
        --------
        >>> Check("a closed form", "tests/test_x.py", "rtol 1e-12", "3e-16").markdown()
        'Against a closed form. Tolerance: rtol 1e-12. Observed: 3e-16. Test: `tests/test_x.py`.'
        """
        return (
            f"Against {self.reference.rstrip('.')}. Tolerance: {self.tolerance.rstrip('.')}. "
            f"Observed: {self.observed.rstrip('.')}. Test: `{self.test_file}`."
        )


@dataclass(frozen=True)
class Method:
    """One estimator of the methods appendix.

    Attributes
    ----------
    id
        Short identifier (``cox_time_varying``).
    title
        Heading of the entry.
    estimand
        What is estimated, in words.
    assumptions
        What must hold for the estimate to mean what the estimand says.
    method
        Formula or algorithm, Markdown with ``$...$`` / ``$$...$$`` math.
    checked_against
        Comparisons with reference implementations, closed forms or published values.
    simulation
        Bias and coverage on simulated data with a known truth (``None`` when there is none).
    references
        Literature and software.
    used_by
        Fully qualified names of the coacheval functions that implement it.
    evaluation
        Labels of an evaluation (estimate-row ``method`` values, ``results.json`` diagnostics
        keys before the colon, and the derived labels of :func:`methods_for_results`) that mean
        this estimator was used.

    Examples
    --------
    >>> m = {m.id: m for m in load_methods()}["rmst"]
    >>> m.evaluation
    ('rmst_landmark', 'rmst_landmark_ipw')
    """

    id: str
    title: str
    estimand: str
    assumptions: tuple[str, ...]
    method: str
    checked_against: tuple[Check, ...]
    simulation: str | None
    references: tuple[str, ...]
    used_by: tuple[str, ...]
    evaluation: tuple[str, ...] = ()

    def markdown(self, heading_level: int = 2) -> str:
        """Return the entry as Markdown, headed at ``heading_level``.

        Parameters
        ----------
        heading_level
            1 to 6: the number of ``#`` of the entry's heading.

        Returns
        -------
        str
            The heading, then estimand, assumptions, method, validation, simulation, references
            and the coacheval functions, as paragraphs and lists.

        Examples
        --------
        >>> m = {m.id: m for m in load_methods()}["bh_qvalues"]
        >>> text = m.markdown(heading_level=4)
        >>> text.startswith("#### "), "**Estimand.**" in text
        (True, True)
        """
        _check_level(heading_level)
        parts = [f"{'#' * heading_level} {self.title}", f"**Estimand.** {self.estimand.strip()}"]
        parts.append("**Assumptions.**\n\n" + _bullets(self.assumptions))
        parts.append(f"**Method.** {self.method.strip()}")
        parts.append("**Validation.**\n\n" + _bullets(c.markdown() for c in self.checked_against))
        if self.simulation:
            parts.append(f"**Simulation.** {self.simulation.strip()}")
        parts.append("**References.**\n\n" + _bullets(self.references))
        parts.append("**Implemented in.**\n\n" + _bullets(f"`{name}`" for name in self.used_by))
        return "\n\n".join(parts) + "\n"


def _bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {' '.join(str(item).split())}" for item in items)


def _check_level(heading_level: int) -> None:
    if not isinstance(heading_level, int) or isinstance(heading_level, bool):
        raise ConfigError(f"heading_level must be an integer from 1 to 6, not {heading_level!r}")
    if not 1 <= heading_level <= 6:
        raise ConfigError(f"heading_level must be from 1 to 6, not {heading_level}")


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"methods.yaml: entry {entry.get('id')!r} has no {key}")
    return value.strip()


def _texts(entry: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = entry.get(key)
    if not isinstance(value, list) or not value:
        raise ConfigError(f"methods.yaml: entry {entry.get('id')!r} needs a non-empty list {key}")
    out = tuple(" ".join(str(v).split()) for v in value)
    if not all(out):
        raise ConfigError(f"methods.yaml: entry {entry.get('id')!r} has an empty item in {key}")
    return out


def _method(entry: Mapping[str, Any]) -> Method:
    missing = [key for key in _FIELDS if key not in entry]
    if missing:
        raise ConfigError(f"methods.yaml: entry {entry.get('id')!r} lacks {', '.join(missing)}")
    checks = entry["checked_against"]
    if not isinstance(checks, list) or not checks:
        raise ConfigError(f"methods.yaml: entry {entry['id']!r} needs checked_against")
    parsed = []
    for check in checks:
        try:
            parsed.append(
                Check(
                    reference=" ".join(str(check["reference"]).split()),
                    test_file=str(check["test_file"]),
                    tolerance=" ".join(str(check["tolerance"]).split()),
                    observed=" ".join(str(check["observed"]).split()),
                    anchor=str(check.get("anchor", "")),
                )
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(
                f"methods.yaml: a check of {entry['id']!r} lacks reference, test_file, "
                f"tolerance or observed ({exc})"
            ) from exc
    simulation = entry.get("simulation")
    return Method(
        id=_text(entry, "id"),
        title=_text(entry, "title"),
        estimand=" ".join(_text(entry, "estimand").split()),
        assumptions=_texts(entry, "assumptions"),
        method=_text(entry, "method"),
        checked_against=tuple(parsed),
        simulation=" ".join(simulation.split()) if isinstance(simulation, str) else None,
        references=_texts(entry, "references"),
        used_by=_texts(entry, "used_by"),
        evaluation=tuple(str(e) for e in entry.get("evaluation") or ()),
    )


@lru_cache(maxsize=1)
def _load() -> tuple[Method, ...]:
    text = resources.files(__package__).joinpath("methods.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("methods"), list):
        raise ConfigError("methods.yaml must hold a list under the key 'methods'")
    methods = tuple(_method(entry) for entry in data["methods"])
    seen: set[str] = set()
    for m in methods:
        if m.id in seen:
            raise ConfigError(f"methods.yaml: the id {m.id!r} is used twice")
        seen.add(m.id)
    return methods


def load_methods() -> list[Method]:
    """Return every entry of the methods appendix, in appendix order.

    Returns
    -------
    list of Method
        One per estimator: survival and retention first, then survey effects and their
        inference, missing data and sensitivity, survey measures, quality and economics, the
        certainty rating, and the design of a new evaluation.

    Raises
    ------
    ConfigError
        The packaged ``methods.yaml`` is malformed (an entry lacks a field, an id repeats).

    Examples
    --------
    >>> methods = load_methods()
    >>> methods[0].id
    'person_time'
    >>> all(m.checked_against for m in methods)
    True
    """
    return list(_load())


def _select(ids: Sequence[str] | None) -> list[Method]:
    methods = load_methods()
    if ids is None:
        return methods
    if isinstance(ids, str):
        ids = [ids]
    by_id = {m.id: m for m in methods}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise ConfigError(
            f"unknown method id(s) {', '.join(map(repr, unknown))}; known: {', '.join(by_id)}"
        )
    wanted = set(ids)
    return [m for m in methods if m.id in wanted]


def methods_markdown(ids: Sequence[str] | None = None, *, heading_level: int = 2) -> str:
    """Write the methods appendix (or some of its entries) as Markdown.

    Parameters
    ----------
    ids
        Entry ids to include (in appendix order, whatever the order given); ``None`` for all.
    heading_level
        Heading level of each entry's title (2 gives ``## Title``).

    Returns
    -------
    str
        Markdown (headings, paragraphs and lists, ``$...$`` inline and ``$$...$$`` display
        math), ready for Pandoc and for MyST with the ``dollarmath`` extension.

    Raises
    ------
    ConfigError
        An id is unknown, or ``heading_level`` is not 1 to 6.

    Examples
    --------
    >>> text = methods_markdown(["km", "logrank"], heading_level=3)
    >>> [line for line in text.splitlines() if line.startswith("### ")]
    ['### Kaplan–Meier survival curves', '### Log-rank test']
    >>> methods_markdown(["no_such_method"])
    Traceback (most recent call last):
    ...
    coacheval.errors.ConfigError: unknown method id(s) 'no_such_method'; known: ...
    """
    _check_level(heading_level)
    return "\n".join(m.markdown(heading_level) for m in _select(ids))


def _results_parts(results: Any) -> tuple[Any, dict[str, Any], dict[str, Any], Path | None]:
    """Estimates table, diagnostics keys, plan and measures folder of any results form."""
    import pandas as pd

    if isinstance(results, (str, Path)):
        from coacheval.reports.results import load_results

        results = load_results(results)
    if hasattr(results, "payload") and hasattr(results, "estimates"):  # ResultsBundle
        return results.estimates, results.diagnostics, results.plan, results.measures
    if hasattr(results, "results") and hasattr(results, "estimates"):  # Evaluation
        keys = {f"{method}:{outcome}": None for method, outcome in results.results}
        plan = results.plan.model_dump(mode="json") if hasattr(results.plan, "model_dump") else {}
        return results.estimates, keys, plan, None
    if isinstance(results, Mapping):  # the results.json payload
        estimates = pd.DataFrame(results.get("estimates") or [])
        return (
            estimates,
            dict(results.get("diagnostics") or {}),
            dict(results.get("plan") or {}),
            None,
        )
    raise ConfigError(
        "results must be a results folder, a results.json path or payload, a ResultsBundle or "
        f"an Evaluation, not {type(results).__name__}"
    )


def _labels(results: Any) -> set[str]:
    """Every label (estimate methods, diagnostics keys, derived labels) an evaluation used."""
    import pandas as pd

    estimates, diagnostics, plan, measures = _results_parts(results)
    labels = {str(key).split(":", 1)[0] for key in diagnostics}
    if len(estimates):
        labels |= {str(m) for m in estimates.get("method", pd.Series(dtype=str)).dropna()}
        labels.add("certainty")
        if "q_value" in estimates and estimates["q_value"].notna().any():
            labels.add("q_value")
        if "evalue_point" in estimates and estimates["evalue_point"].notna().any():
            labels.add("e_value")
        if "analysis" in estimates and (estimates["analysis"] == "survey outcomes").any():
            labels.add("scores")
        twfe = estimates[estimates.get("method", pd.Series(dtype=str)) == "twfe"]
        below = (plan.get("inference") or {}).get("wild_bootstrap_below_clusters", 0) or 0
        if len(twfe) and (pd.to_numeric(twfe.get("n_clusters"), errors="coerce") < below).any():
            labels.add("wild_bootstrap")
    if (plan.get("design") or {}).get("type") == "randomised_rollout":
        labels.add("rollout")
    if measures is not None:
        measures = Path(measures)
        if (measures / "table1.md").is_file():
            labels.add("table1")
        if (measures / "reliability.csv").is_file():
            labels.add("reliability")
        labels.add("scores")
    return labels


def methods_for_results(results: Any) -> list[str]:
    """Pick the appendix entries an evaluation used, in appendix order.

    Parameters
    ----------
    results
        An evaluation's results folder (or its ``results.json``), the parsed ``results.json``
        payload, a :class:`~coacheval.reports.results.ResultsBundle` or an
        :class:`~coacheval.evaluate.run.Evaluation`.

    Returns
    -------
    list of str
        Method ids, for :func:`methods_markdown`. An entry is picked when one of its
        ``evaluation`` labels occurs as an estimate row's ``method``, as a ``results.json``
        diagnostics key (before the colon), or as a derived label: ``q_value`` and ``e_value``
        when the estimates carry them, ``scores``, ``table1`` and ``reliability`` for the survey
        measures, ``certainty`` whenever there are estimates, ``wild_bootstrap`` when a
        two-way fixed-effects row has fewer clusters than the plan's
        ``wild_bootstrap_below_clusters``, and ``rollout`` when the plan's design is a
        randomised rollout.

    Raises
    ------
    ConfigError
        ``results`` is of none of these forms.
    coacheval.errors.DataValidationError
        A folder holds no ``results.json``.

    Examples
    --------
    >>> payload = {"estimates": [{"analysis": "retention", "method": "cox_tv"}],
    ...            "diagnostics": {"ph_test:voluntary turnover": {}}}
    >>> methods_for_results(payload)
    ['cox_time_varying', 'cause_specific_cox', 'ph_test', 'evidence_certainty']
    """
    labels = _labels(results)
    return [m.id for m in load_methods() if labels & set(m.evaluation)]
