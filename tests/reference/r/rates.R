# Reference values for coacheval.retention.rates, .spillover and .power:
# exact Poisson rates and rate ratios (poisson.test), Poisson and negative
# binomial rate models with an offset and cluster-robust variance (glm,
# MASS::glm.nb, sandwich::vcovCL), and events / sample size / power for a
# two-group survival comparison (rpact::getSampleSizeSurvival,
# getPowerSurvival: Schoenfeld and Freedman).
#
# Run from the repository root:
#     Rscript tests/reference/r/rates.R
#
# Needs the Debian packages r-base-core, r-cran-survival, r-cran-mass,
# r-cran-sandwich and r-cran-rpact.  No network access, no random numbers.
#
# Data sets (public, shipped with R packages):
#
# * lung: survival::lung, NCCTG advanced lung cancer, rows with ph.ecog known
#   (227).  Person-years = time / 365.25, event = status - 1; groups by sex
#   and by ph.ecog (ph.ecog 3 is one patient: a small-count group).
# * insurance: MASS::Insurance, car insurance claims (Claims) with the number
#   of policy holders (Holders) as exposure, 64 cells of District x Group x
#   Age.  District (4) is the cluster; the "exposure" indicator of the rate
#   model is age_gt35 (Age ">35"); covariates are treatment dummies of the
#   other Age and Group levels (reference levels "<25" and "<1l").
# * quine: MASS::quine, days absent from school of 146 children
#   (overdispersed counts).  Negative binomial with Eth, Sex and Lrn dummies
#   (EthN, SexM, LrnSL); the school form (Age: F0-F3) is the cluster.
#
# Number format in every CSV: see _common.R.

suppressPackageStartupMessages({
  library(survival)
  library(MASS)
  library(sandwich)
  library(rpact)
})

source(file.path("tests", "reference", "r", "_common.R"))

# ============================================================ 1. rates ===
lung_d <- survival::lung[!is.na(survival::lung$ph.ecog), ]
lung_d <- data.frame(years = lung_d$time / 365.25, event = as.integer(lung_d$status - 1L),
                     sex = ifelse(lung_d$sex == 1, "male", "female"),
                     ph_ecog = as.integer(lung_d$ph.ecog))
write_ref(lung_d, file.path(data_dir, "rates_lung.csv"))

one_rate <- function(group_col, level, x, t) {
  # poisson.test(x, T): exact (Garwood) interval, per person-year
  pt <- poisson.test(x, t)
  data.frame(group_col = group_col, group = level, events = as.integer(x), person_time = t,
             rate = unname(pt$estimate), conf_low = pt$conf.int[1], conf_high = pt$conf.int[2])
}
rate_rows <- list()
for (g in c("sex", "ph_ecog")) {
  for (lev in sort(unique(lung_d[[g]]))) {
    sel <- lung_d[[g]] == lev
    rate_rows[[length(rate_rows) + 1]] <- one_rate(g, as.character(lev), sum(lung_d$event[sel]),
                                                   sum(lung_d$years[sel]))
  }
}
rate_rows[[length(rate_rows) + 1]] <- one_rate("all", "all", sum(lung_d$event),
                                               sum(lung_d$years))
write_ref(do.call(rbind, rate_rows), file.path(exp_dir, "rates_lung_rates.csv"))

# Counts 0..10 over 1 person-year and 0 events over the lung person-years:
# the exact limits themselves (0 events: upper = qchisq(0.975, 2) / 2 = 3.689).
small <- do.call(rbind, lapply(0:10, function(x) one_rate("count", as.character(x), x, 1)))
small <- rbind(small, one_rate("zero", "lung", 0, sum(lung_d$years)))
small90 <- do.call(rbind, lapply(c(0, 3, 25), function(x) {
  pt <- poisson.test(x, 2.5, conf.level = 0.9)
  data.frame(group_col = "conf90", group = as.character(x), events = as.integer(x),
             person_time = 2.5, rate = unname(pt$estimate), conf_low = pt$conf.int[1],
             conf_high = pt$conf.int[2])
}))
write_ref(rbind(small, small90), file.path(exp_dir, "rates_small_counts.csv"))

# Rate ratios: poisson.test(c(x1, x2), c(t1, t2)) (exact conditional binomial test)
rr_row <- function(label, x1, t1, x2, t2, r = 1) {
  pt <- poisson.test(c(x1, x2), c(t1, t2), r = r)
  data.frame(case = label, x1 = x1, t1 = t1, x2 = x2, t2 = t2, null = r,
             estimate = unname(pt$estimate), conf_low = pt$conf.int[1],
             conf_high = pt$conf.int[2], p_value = pt$p.value)
}
ev <- function(sel) c(sum(lung_d$event[sel]), sum(lung_d$years[sel]))
f <- ev(lung_d$sex == "female"); m <- ev(lung_d$sex == "male")
e0 <- ev(lung_d$ph_ecog == 0); e2 <- ev(lung_d$ph_ecog == 2); e3 <- ev(lung_d$ph_ecog == 3)
rr <- rbind(
  rr_row("female_vs_male", f[1], f[2], m[1], m[2]),
  rr_row("ecog2_vs_ecog0", e2[1], e2[2], e0[1], e0[2]),
  rr_row("ecog3_vs_ecog0", e3[1], e3[2], e0[1], e0[2]),
  rr_row("female_vs_male_null0.7", f[1], f[2], m[1], m[2], r = 0.7),
  rr_row("zero_vs_male", 0, f[2], m[1], m[2])
)
write_ref(rr, file.path(exp_dir, "rates_ratios.csv"))

# ====================================================== 2. rate models ===
ins <- MASS::Insurance
ins_d <- data.frame(district = as.integer(as.character(ins$District)),
                    group = as.character(ins$Group), age = as.character(ins$Age),
                    holders = ins$Holders, claims = ins$Claims)
ins_d$age_gt35 <- as.integer(ins_d$age == ">35")
ins_d$age_25_29 <- as.integer(ins_d$age == "25-29")
ins_d$age_30_35 <- as.integer(ins_d$age == "30-35")
ins_d$group_1_1_5l <- as.integer(ins_d$group == "1-1.5l")
ins_d$group_1_5_2l <- as.integer(ins_d$group == "1.5-2l")
ins_d$group_gt2l <- as.integer(ins_d$group == ">2l")
write_ref(ins_d, file.path(data_dir, "rates_insurance.csv"))

ctl <- glm.control(epsilon = 1e-13, maxit = 100)
# glm(claims ~ age_gt35 + age_25_29 + age_30_35 + group dummies,
#     offset = log(holders), family = poisson)
pois <- glm(claims ~ age_gt35 + age_25_29 + age_30_35 + group_1_1_5l + group_1_5_2l +
              group_gt2l, offset = log(holders), family = poisson, data = ins_d, control = ctl)
se <- function(v) sqrt(diag(v))
pois_rows <- data.frame(
  term = names(coef(pois)), estimate = unname(coef(pois)),
  se_model = unname(se(vcov(pois))),
  # vcovCL's default for glm: type "HC1" = G/(G-1) * (n-1)/(n-k)
  se_cl_hc1 = unname(se(vcovCL(pois, cluster = ~district, type = "HC1"))),
  # type "HC0" with cadjust: G/(G-1) only (Stata's poisson, vce(cluster))
  se_cl_hc0 = unname(se(vcovCL(pois, cluster = ~district, type = "HC0"))),
  se_cl_hc0_noadj = unname(se(vcovCL(pois, cluster = ~district, type = "HC0",
                                     cadjust = FALSE))),
  # one observation per cluster: heteroskedasticity-robust HC0 / HC1
  se_hc0 = unname(se(vcovHC(pois, type = "HC0"))),
  se_hc1 = unname(se(vcovHC(pois, type = "HC1")))
)
write_ref(pois_rows, file.path(exp_dir, "rates_insurance_poisson.csv"))
write_ref(data.frame(loglik = as.numeric(logLik(pois)), deviance = deviance(pois),
                     n = nobs(pois), n_clusters = 4L),
          file.path(exp_dir, "rates_insurance_poisson_fit.csv"))

quine_d <- data.frame(days = MASS::quine$Days, eth_n = as.integer(MASS::quine$Eth == "N"),
                      sex_m = as.integer(MASS::quine$Sex == "M"),
                      lrn_sl = as.integer(MASS::quine$Lrn == "SL"),
                      form = as.character(MASS::quine$Age), one = 1L)
write_ref(quine_d, file.path(data_dir, "rates_quine.csv"))
# glm.nb(days ~ eth_n + sex_m + lrn_sl), cluster = form (school form F0-F3)
nb <- glm.nb(days ~ eth_n + sex_m + lrn_sl, data = quine_d, control = ctl)
nb_rows <- data.frame(
  term = names(coef(nb)), estimate = unname(coef(nb)),
  se_model = unname(se(vcov(nb))),
  se_cl_hc1 = unname(se(vcovCL(nb, cluster = ~form, type = "HC1"))),
  se_cl_hc0 = unname(se(vcovCL(nb, cluster = ~form, type = "HC0")))
)
write_ref(nb_rows, file.path(exp_dir, "rates_quine_nb.csv"))
write_ref(data.frame(theta = nb$theta, se_theta = nb$SE.theta, loglik = as.numeric(logLik(nb)),
                     twologlik = nb$twologlik, n = nobs(nb)),
          file.path(exp_dir, "rates_quine_nb_fit.csv"))

# The same with all four covariates (Age form as dummies), no clustering
nb4 <- glm.nb(days ~ eth_n + sex_m + lrn_sl + I(form == "F1") + I(form == "F2") +
                I(form == "F3"), data = quine_d, control = ctl)
write_ref(data.frame(term = c("(Intercept)", "eth_n", "sex_m", "lrn_sl", "form_f1", "form_f2",
                              "form_f3"),
                     estimate = unname(coef(nb4)), se_model = unname(se(vcov(nb4))),
                     theta = nb4$theta, se_theta = nb4$SE.theta),
          file.path(exp_dir, "rates_quine_nb_full.csv"))

# ============================================================= 3. power ===
# Events (Schoenfeld / Freedman, two-sided) and subjects for an exponential
# control hazard lambda2 = -log(1 - pi2) (pi2 = probability of the event
# within eventTime = 1 year), uniform accrual over accrualTime and further
# follow-up; allocationRatioPlanned = n_treated / n_control.
ss_cases <- expand.grid(method = c("Schoenfeld", "Freedman"), hr = c(0.5, 0.7, 0.85, 1.3),
                        pi2 = c(0.15, 0.3), alloc = c(1, 0.5), accrual = c(0, 1.5),
                        stringsAsFactors = FALSE)
ss_cases$follow_up <- ifelse(ss_cases$accrual == 0, 2, 1)
ss_rows <- do.call(rbind, lapply(seq_len(nrow(ss_cases)), function(i) {
  cs <- ss_cases[i, ]
  acc <- if (cs$accrual == 0) 0 else c(0, cs$accrual)
  x <- getSampleSizeSurvival(typeOfComputation = cs$method, sided = 2, alpha = 0.05,
                             beta = 0.2, pi2 = cs$pi2, eventTime = 1, hazardRatio = cs$hr,
                             accrualTime = acc, followUpTime = cs$follow_up,
                             allocationRatioPlanned = cs$alloc)
  data.frame(method = cs$method, hazard_ratio = cs$hr, annual_turnover = cs$pi2,
             allocation_ratio = cs$alloc, accrual_years = cs$accrual,
             follow_up_years = cs$follow_up, lambda2 = x$lambda2,
             events = x$maxNumberOfEvents, subjects = x$maxNumberOfSubjects)
}))
write_ref(ss_rows, file.path(exp_dir, "rates_power_sample_size.csv"))

# Power from a given number of events (getPowerSurvival, overallReject)
pw_cases <- expand.grid(method = c("Schoenfeld", "Freedman"), hr = c(0.6, 0.8, 1.25),
                        events = c(40, 150), alloc = c(1, 2), stringsAsFactors = FALSE)
pw_rows <- do.call(rbind, lapply(seq_len(nrow(pw_cases)), function(i) {
  cs <- pw_cases[i, ]
  p <- getPowerSurvival(typeOfComputation = cs$method, sided = 2, alpha = 0.05, pi2 = 0.2,
                        eventTime = 1, hazardRatio = cs$hr, accrualTime = c(0, 1),
                        maxNumberOfSubjects = 2000, maxNumberOfEvents = cs$events,
                        allocationRatioPlanned = cs$alloc)
  data.frame(method = cs$method, hazard_ratio = cs$hr, events = cs$events,
             allocation_ratio = cs$alloc, power = p$overallReject)
}))
write_ref(pw_rows, file.path(exp_dir, "rates_power_power.csv"))

writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_rates.txt"))
