"""Quality monitoring, implementation (RE-AIM) and economics of the program.

Examples
--------
>>> from coacheval.quality import p_chart, reach, roi
>>> callable(p_chart) and callable(reach) and callable(roi)
True
"""

from coacheval.quality.economics import (
    CostAssumptions,
    CostResult,
    ROIResult,
    TurnoversAvoidedResult,
    program_cost,
    roi,
    turnovers_avoided,
)
from coacheval.quality.kpi import KPI_DEFINITIONS, KPIResult, quarterly_kpis
from coacheval.quality.reaim import (
    adoption,
    completion,
    fidelity_dose,
    goal_attainment,
    implementation_summary,
    maintenance,
    reach,
)
from coacheval.quality.spc import SPCResult, anhoej_limits, i_mr_chart, p_chart, run_chart, u_chart

__all__ = [
    "KPI_DEFINITIONS",
    "CostAssumptions",
    "CostResult",
    "KPIResult",
    "ROIResult",
    "SPCResult",
    "TurnoversAvoidedResult",
    "adoption",
    "anhoej_limits",
    "completion",
    "fidelity_dose",
    "goal_attainment",
    "i_mr_chart",
    "implementation_summary",
    "maintenance",
    "p_chart",
    "program_cost",
    "quarterly_kpis",
    "reach",
    "roi",
    "run_chart",
    "turnovers_avoided",
    "u_chart",
]
