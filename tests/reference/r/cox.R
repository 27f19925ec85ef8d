# Reference values for coacheval.retention.cox (fit_cox): Cox proportional
# hazards on (start, stop] counting-process data, Efron and Breslow ties,
# case weights, strata, model-based and robust (cluster) variance.
#
# Run from the repository root:
#     Rscript tests/reference/r/cox.R
#
# Needs the Debian packages r-base-core and r-cran-survival only.  No network
# access, no random numbers: the script is deterministic.
#
# Data sets (public, shipped with survival):
#
# * lung: survival::lung, NCCTG advanced lung cancer, complete cases on time,
#   status, age, sex, ph.ecog, inst (226 rows).  event = status - 1.  A
#   deterministic case weight w = 0.5 + (row %% 4) / 4 (row = 1..226 in data
#   order) exercises weighted fits; inst (institution) is the cluster.
# * heart: survival::heart, Stanford heart transplant, counting-process form
#   (start, stop] with the time-varying covariate transplant (0/1; the factor
#   converted to its 0/1 labels); id is the patient and the cluster.  Rows of
#   one patient abut (the second row starts where the first stops) and there
#   are tied stop times, so the (start, stop] risk-set rule matters.
# * veteran: survival::veteran, VA lung cancer trial; strata(celltype).
#
# Every fit uses coxph.control(eps = 1e-11, iter.max = 100) so both sides are
# the converged maximum of the partial likelihood (the default eps = 1e-9 on
# the relative change of the log-likelihood can leave ~1e-8 in the coefficients; toler.chol keeps its default 1.8e-12 < eps).
#
# Number format in every CSV: the shortest of sprintf("%.15g"/"%.16g"/
# "%.17g") that reads back as the same double, integers as integers, missing
# values as an empty field, text quoted.

suppressPackageStartupMessages(library(survival))

source(file.path("tests", "reference", "r", "_common.R"))

ctrl <- coxph.control(eps = 1e-11, iter.max = 100)

# ================================================================ 1. data ===
lung_d <- survival::lung[complete.cases(survival::lung[, c("time", "status", "age", "sex",
                                                           "ph.ecog", "inst")]), ]
lung_d <- data.frame(time = lung_d$time, event = as.integer(lung_d$status - 1L),
                     age = lung_d$age, sex = lung_d$sex, ph_ecog = lung_d$ph.ecog,
                     inst = as.integer(lung_d$inst))
lung_d$w <- 0.5 + (seq_len(nrow(lung_d)) %% 4) / 4
write_ref(lung_d, file.path(data_dir, "cox_lung.csv"))

heart_d <- data.frame(start = survival::heart$start, stop = survival::heart$stop,
                      event = as.integer(survival::heart$event),
                      transplant = as.integer(as.character(survival::heart$transplant)),
                      age = survival::heart$age, year = survival::heart$year,
                      surgery = as.integer(survival::heart$surgery),
                      id = as.integer(survival::heart$id))
write_ref(heart_d, file.path(data_dir, "cox_heart.csv"))

vet_d <- data.frame(time = survival::veteran$time, event = as.integer(survival::veteran$status),
                    trt = as.integer(survival::veteran$trt),
                    celltype = as.character(survival::veteran$celltype),
                    karno = survival::veteran$karno, age = survival::veteran$age,
                    prior = as.integer(survival::veteran$prior))
write_ref(vet_d, file.path(data_dir, "cox_veteran.csv"))

# ================================================================ 2. fits ===
fits <- list(
  # coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d, ties = "efron")
  lung_efron = coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d,
                     ties = "efron", control = ctrl),
  # coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d, ties = "breslow")
  lung_breslow = coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d,
                       ties = "breslow", control = ctrl),
  # coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d, weights = w,
  #       robust = TRUE, ties = "efron")   # each row its own cluster
  lung_weights_robust = coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d,
                              weights = w, robust = TRUE, ties = "efron", control = ctrl),
  # coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d, weights = w,
  #       cluster = inst, ties = "breslow")
  lung_weights_cluster_breslow = coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d,
                                       weights = w, cluster = inst, ties = "breslow",
                                       control = ctrl),
  # coxph(Surv(time, event) ~ age + ph_ecog + strata(sex), data = lung_d, ties = "efron")
  lung_strata_sex = coxph(Surv(time, event) ~ age + ph_ecog + strata(sex), data = lung_d,
                          ties = "efron", control = ctrl),
  # coxph(Surv(start, stop, event) ~ transplant + age + year + surgery, data = heart_d,
  #       cluster = id, ties = "efron")
  heart_efron_cluster = coxph(Surv(start, stop, event) ~ transplant + age + year + surgery,
                              data = heart_d, cluster = id, ties = "efron", control = ctrl),
  # coxph(Surv(start, stop, event) ~ transplant + age + year + surgery, data = heart_d,
  #       cluster = id, ties = "breslow")
  heart_breslow_cluster = coxph(Surv(start, stop, event) ~ transplant + age + year + surgery,
                                data = heart_d, cluster = id, ties = "breslow", control = ctrl),
  # coxph(Surv(start, stop, event) ~ transplant + age + year + surgery + strata(surgery)...)
  # is not used; instead weights + cluster on counting-process data:
  # coxph(Surv(start, stop, event) ~ transplant + age + year, data = heart_d,
  #       weights = 1 + surgery, cluster = id, ties = "efron")
  heart_weights_cluster = coxph(Surv(start, stop, event) ~ transplant + age + year,
                                data = transform(heart_d, w = 1 + surgery), weights = w,
                                cluster = id, ties = "efron", control = ctrl),
  # coxph(Surv(time, event) ~ trt + karno + age + prior + strata(celltype), data = vet_d,
  #       ties = "efron")
  veteran_strata_celltype = coxph(Surv(time, event) ~ trt + karno + age + prior +
                                    strata(celltype), data = vet_d, ties = "efron",
                                  control = ctrl),
  # same, ties = "breslow", robust = TRUE
  veteran_strata_breslow_robust = coxph(Surv(time, event) ~ trt + karno + age + prior +
                                          strata(celltype), data = vet_d, ties = "breslow",
                                        robust = TRUE, control = ctrl)
)

coef_rows <- do.call(rbind, lapply(names(fits), function(nm) {
  f <- fits[[nm]]
  naive <- if (is.null(f$naive.var)) f$var else f$naive.var
  robust_se <- if (is.null(f$naive.var)) rep(NA_real_, length(coef(f))) else sqrt(diag(f$var))
  data.frame(case = nm, term = names(coef(f)), estimate = unname(coef(f)),
             std_error = sqrt(diag(naive)), robust_std_error = robust_se)
}))
write_ref(coef_rows, file.path(exp_dir, "cox_coefs.csv"))

fit_rows <- do.call(rbind, lapply(names(fits), function(nm) {
  f <- fits[[nm]]
  data.frame(case = nm, loglik_null = f$loglik[1], loglik = f$loglik[2],
             n_obs = as.integer(f$n), n_events = as.integer(f$nevent),
             iter = as.integer(f$iter), ties = f$method)
}))
write_ref(fit_rows, file.path(exp_dir, "cox_fit.csv"))

writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_cox.txt"))
