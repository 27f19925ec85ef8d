"""Retention as time to event: person-time from HR extracts and the survival estimators.

Examples
--------
>>> from coacheval.retention import fit_cox, kaplan_meier, rmst, fit_finegray
>>> callable(fit_cox) and callable(kaplan_meier) and callable(rmst) and callable(fit_finegray)
True
"""

from coacheval.retention.competing import (
    CumulativeIncidenceResult,
    GrayTestResult,
    cause_specific_cox,
    cumulative_incidence,
    gray_test,
)
from coacheval.retention.cox import CoxResult, fit_cox
from coacheval.retention.finegray import FineGrayResult, finegray_expand, fit_finegray
from coacheval.retention.km import KaplanMeierResult, LogRankResult, kaplan_meier, logrank_test
from coacheval.retention.persontime import RetentionData, build_person_time, person_time_from_study
from coacheval.retention.ph import PHTestResult, cox_zph, schoenfeld_residuals
from coacheval.retention.power import PowerResult, retention_power
from coacheval.retention.rates import (
    hr_turnover_rate,
    rate_ratio,
    rate_ratio_from_counts,
    turnover_rates,
)
from coacheval.retention.rmst import RMSTResult, rmst
from coacheval.retention.simulated_power import SimulatedPowerResult, simulated_retention_power
from coacheval.retention.spillover import SpilloverResult, unit_turnover_model

__all__ = [
    "CoxResult",
    "CumulativeIncidenceResult",
    "FineGrayResult",
    "GrayTestResult",
    "KaplanMeierResult",
    "LogRankResult",
    "PHTestResult",
    "PowerResult",
    "RMSTResult",
    "RetentionData",
    "SimulatedPowerResult",
    "SpilloverResult",
    "build_person_time",
    "cause_specific_cox",
    "cox_zph",
    "cumulative_incidence",
    "finegray_expand",
    "fit_cox",
    "fit_finegray",
    "gray_test",
    "hr_turnover_rate",
    "kaplan_meier",
    "logrank_test",
    "person_time_from_study",
    "rate_ratio",
    "rate_ratio_from_counts",
    "retention_power",
    "rmst",
    "schoenfeld_residuals",
    "simulated_retention_power",
    "turnover_rates",
    "unit_turnover_model",
]
