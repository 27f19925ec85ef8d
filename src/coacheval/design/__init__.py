"""Designing a program's evaluation before it starts: peer groups, rollout order and power.

The modules of this package are used before the first cohort meets:

- :mod:`coacheval.design.groups`: form peer groups that satisfy the program's rules (size,
  role level, departments, no manager with their own reports, stated exclusions), with the
  objective stated and the reason any leader could not be placed (``coacheval groups``);
- :mod:`coacheval.design.rollout`: randomise the order in which groups start, stratified,
  reproducible from a seed — a stepped-wedge design the evaluation then uses
  (``coacheval rollout``, the ``randomised`` analysis plan);
- :mod:`coacheval.design.power` and :mod:`coacheval.design.simulated_power`: what the planned
  rollout can detect, by formula and by simulation (``coacheval power``).

The package itself has no names of its own (``__all__`` is empty): import from its modules.

Examples
--------
>>> from coacheval.design.power import design_power
>>> from coacheval.design.rollout import randomise_rollout
>>> import pandas as pd
>>> groups = pd.DataFrame({"group": [f"G{i}" for i in range(8)], "facility": ["F1", "F2"] * 4})
>>> plan = randomise_rollout(groups, n_cohorts=2, seed=2026)
>>> plan.allocation.to_numpy().tolist()  # stratum, cohort 1, cohort 2, total
[['F1', 2, 2, 4], ['F2', 2, 2, 4], ['total', 4, 4, 8]]
>>> result = design_power(units=24, leaders_per_unit=10, cohorts=3, waves=4)
>>> round(float(result.table["minimum_detectable"].iloc[0]), 2)  # in SD units (d)
0.4
"""

__all__: list[str] = []
