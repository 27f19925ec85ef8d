# Reference values for coacheval.retention.competing (cumulative_incidence,
# cause_specific_cox) and coacheval.retention.finegray (finegray_expand,
# fit_finegray): Aalen-Johansen cumulative incidence with its infinitesimal-
# jackknife standard errors (survfit multi-state), Fine-Gray data expansion
# (survival::finegray) and the weighted Cox fit on it, and cmprsk::crr.
#
# Run from the repository root:
#     Rscript tests/reference/r/competing.R
#
# Needs r-base-core, r-cran-survival and r-cran-cmprsk.  No network access,
# no random numbers: the script is deterministic.
#
# Data sets (public, shipped with survival):
#
# * mgus2: survival::mgus2, 1384 patients with monoclonal gammopathy; the
#   competing events are progression to plasma cell malignancy (pcm) and death
#   before it, built exactly as in the survival "compete" vignette:
#       etime = ifelse(pstat == 0, futime, ptime)
#       event = ifelse(pstat == 0, 2 * death, 1)  # 0 censor, 1 pcm, 2 death
#   Times are whole months with many ties (ties between causes included).
#   male = sex == "M".  A deterministic case weight w = 0.5 + (row %% 4) / 4
#   exercises weighted fits.  Age-scale version (delayed entry, left
#   truncation): entry = 12 * age, exit = 12 * age + etime, in months (all
#   integers, so there are no floating-point near-ties).
# * mgus2 split: the same data cut at 12, 36, 60, 120 and 240 months with
#   survSplit (one to six rows per patient): splitting must not change the
#   Aalen-Johansen estimate.
# * pbc: survival::pbc (first 312, randomised, patients) with the competing
#   events transplant (status 1) and death (status 2), and pbcseq's repeated
#   bilirubin and albumin merged in with tmerge (time-varying covariates, as
#   in the survival "timedep" vignette): counting-process (tstart, tstop]
#   rows, the event only on a patient's last row.
# * Melanoma: MASS::Melanoma, 205 patients operated on for malignant melanoma
#   (Andersen et al. 1993); death from melanoma (status 1) and death from
#   other causes (status 3) compete, status 2 = alive (censored).  On the AGE
#   scale: entry = 365.25 * age (whole years), exit = entry + time (days);
#   all times are multiples of 0.25, so exact in binary and untouched by
#   finegray's timefix.  The oldest patient (95) enters after every other
#   follow-up has ended (the latest exit is at 90.8 years): nobody is under
#   observation across age 95, a "break", where finegray's censoring x entry
#   curve is 0 at every earlier time.  finegray then returns NaN (0/0) and Inf
#   weights -- the same failure as on HR extracts on the tenure scale, where
#   the longest-tenured leader enters the window after everyone else has
#   left.  coxph drops the NaN rows silently (na.action) and refuses the Inf
#   ones ("weights must be finite").  The reference for coacheval's handling
#   is finegray run separately on each stretch of follow-up between breaks
#   (disjoint sets of people), stacked, then the usual weighted coxph.
#
# Number format in every CSV: see _common.R.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

source(file.path("tests", "reference", "r", "_common.R"))

ctrl <- coxph.control(eps = 1e-11, iter.max = 100)
lab <- c("censor", "pcm", "death")

# ================================================================ 1. data ===
m <- survival::mgus2
etime <- with(m, ifelse(pstat == 0, futime, ptime))
event <- with(m, ifelse(pstat == 0, 2 * death, 1))
mg <- data.frame(id = as.integer(m$id), etime = etime,
                 event = as.character(factor(event, 0:2, labels = lab)),
                 age = m$age, male = as.integer(m$sex == "M"), hgb = m$hgb,
                 mspike = m$mspike)
mg$w <- 0.5 + (seq_len(nrow(mg)) %% 4) / 4
mg$entry <- 12 * mg$age
mg$exit <- 12 * mg$age + mg$etime
write_ref(mg, file.path(data_dir, "competing_mgus2.csv"))
mg$event <- factor(mg$event, levels = lab)

mgs <- survSplit(Surv(etime, event) ~ ., data = mg, cut = c(12, 36, 60, 120, 240),
                 start = "tstart", end = "tstop", episode = "episode")
mgs$event <- factor(as.character(mgs$event), levels = lab)
mgs <- mgs[order(mgs$id, mgs$tstart), ]
write_ref(mgs[, c("id", "tstart", "tstop", "event", "age", "male", "w")],
          file.path(data_dir, "competing_mgus2_split.csv"))

pb <- subset(survival::pbc, id <= 312, select = c(id:sex, stage))
pb2 <- tmerge(pb, pb, id = id, endpt = event(time, status))
pb2 <- tmerge(pb2, survival::pbcseq, id = id, bili = tdc(day, bili),
              albumin = tdc(day, albumin))
pbc_d <- data.frame(id = as.integer(pb2$id), tstart = pb2$tstart, tstop = pb2$tstop,
                    event = as.character(factor(pb2$endpt, 0:2,
                                                labels = c("censor", "transplant", "death"))),
                    age = pb2$age, female = as.integer(pb2$sex == "f"),
                    log_bili = log(pb2$bili), albumin = pb2$albumin)
write_ref(pbc_d, file.path(data_dir, "competing_pbc.csv"))
pbc_d$event <- factor(pbc_d$event, levels = c("censor", "transplant", "death"))

mm <- MASS::Melanoma
mel <- data.frame(id = seq_len(nrow(mm)), entry = 365.25 * mm$age,
                  exit = 365.25 * mm$age + mm$time,
                  event = as.character(factor(mm$status, c(2, 1, 3),
                                              labels = c("censor", "melanoma", "other"))),
                  male = as.integer(mm$sex), ulcer = as.integer(mm$ulcer),
                  log_thick = log(mm$thickness))
write_ref(mel, file.path(data_dir, "competing_melanoma.csv"))
mel$event <- factor(mel$event, levels = c("censor", "melanoma", "other"))
# stretch of follow-up: a new one starts where someone enters at or after the
# latest exit of everyone who entered before (one row per patient here)
o <- order(mel$entry)
mel$stretch[o] <- cumsum(c(TRUE, mel$entry[o][-1] >= cummax(mel$exit[o])[-nrow(mel)]))
stopifnot(max(mel$stretch) == 2, sum(mel$stretch == 2) == 1)

# ======================================== 2. Aalen-Johansen (survfit) ===
# survfit(Surv(...)) with a factor status is the multi-state Aalen-Johansen
# estimator; its std.err is the infinitesimal jackknife (robust, by id), and
# its default conf.type is "log".
aj_rows <- function(fit, case) {
  states <- fit$states
  nst <- length(fit$strata)
  grp <- if (nst) rep(sub(".*=", "", names(fit$strata)), fit$strata) else rep("all", length(fit$time))
  out <- list()
  for (k in seq_along(states)) {
    if (states[k] == "(s0)") next
    out[[k]] <- data.frame(case = case, group = grp, cause = states[k], time = fit$time,
                           n_risk = as.integer(fit$n.risk[, 1]),
                           n_event = as.integer(fit$n.event[, k]),
                           estimate = fit$pstate[, k], std_error = fit$std.err[, k],
                           conf_low = fit$lower[, k], conf_high = fit$upper[, k])
  }
  do.call(rbind, out)
}

aj <- rbind(
  # survfit(Surv(etime, event) ~ male, data = mg)
  aj_rows(survfit(Surv(etime, event) ~ male, data = mg), "mgus2_by_sex"),
  # survfit(Surv(etime, event) ~ 1, data = mg, weights = w)
  aj_rows(survfit(Surv(etime, event) ~ 1, data = mg, weights = w), "mgus2_weighted"),
  # survfit(Surv(tstart, tstop, event) ~ male, data = mgs, id = id)
  aj_rows(survfit(Surv(tstart, tstop, event) ~ male, data = mgs, id = id), "mgus2_split_by_sex"),
  # survfit(Surv(entry, exit, event) ~ 1, data = mg, id = id, weights = w): age scale
  aj_rows(survfit(Surv(entry, exit, event) ~ 1, data = mg, id = id, weights = w),
          "mgus2_age_weighted"),
  # survfit(Surv(tstart, tstop, event) ~ 1, data = pbc_d, id = id)
  aj_rows(survfit(Surv(tstart, tstop, event) ~ 1, data = pbc_d, id = id), "pbc_tv"),
  # survfit(Surv(etime, event) ~ 1, data = mg, conf.type = "log-log") only to
  # check the CI transform is the default "log": not written.
  NULL
)
write_ref(aj, file.path(exp_dir, "competing_aj.csv"))

# ============================================================ 3. finegray ===
fg_mg <- finegray(Surv(etime, event) ~ ., data = mg[, c("id", "etime", "event", "age", "male", "w")],
                  etype = "pcm")
write_ref(fg_mg[, c("id", "fgstart", "fgstop", "fgstatus", "fgwt")],
          file.path(exp_dir, "competing_fg_mgus2_pcm.csv"))
fg_mg_death <- finegray(Surv(etime, event) ~ ., data = mg[, c("id", "etime", "event", "age", "male")],
                        etype = "death")
write_ref(fg_mg_death[, c("id", "fgstart", "fgstop", "fgstatus", "fgwt")],
          file.path(exp_dir, "competing_fg_mgus2_death.csv"))
fg_mgw <- finegray(Surv(etime, event) ~ ., data = mg[, c("id", "etime", "event", "age", "male", "w")],
                   etype = "pcm", weights = w)
write_ref(fg_mgw[, c("id", "fgstart", "fgstop", "fgstatus", "fgwt")],
          file.path(exp_dir, "competing_fg_mgus2_pcm_weighted.csv"))
# complete cases on hgb (coxph would drop the expanded rows with a missing hgb)
fg_age <- finegray(Surv(entry, exit, event) ~ ., id = id,
                   data = mg[!is.na(mg$hgb), c("id", "entry", "exit", "event", "male", "hgb")],
                   etype = "pcm")
write_ref(fg_age[, c("id", "fgstart", "fgstop", "fgstatus", "fgwt")],
          file.path(exp_dir, "competing_fg_mgus2_age.csv"))
fg_pbc <- finegray(Surv(tstart, tstop, event) ~ ., id = id,
                   data = pbc_d, etype = "death")
write_ref(fg_pbc[, c("id", "fgstart", "fgstop", "fgstatus", "fgwt", "log_bili")],
          file.path(exp_dir, "competing_fg_pbc.csv"))

# Melanoma on the age scale, both causes: finegray on all patients (NaN / Inf
# weights, written as an empty field / Inf) and finegray per stretch.
fg_by_stretch <- function(d, etype) {
  do.call(rbind, lapply(split(d, d$stretch), function(x) {
    if (any(x$event == etype)) {
      finegray(Surv(entry, exit, event) ~ ., data = x, id = id, etype = etype)
    } else {  # no exit of etype in this stretch: its rows are never in a risk set
      data.frame(x[, setdiff(names(x), c("entry", "exit", "event"))], fgstart = x$entry,
                 fgstop = x$exit, fgstatus = 0L, fgwt = 1)
    }
  }))
}
mel_vars <- c("id", "entry", "exit", "event", "male", "ulcer", "log_thick", "stretch")
fg_mel <- list()
for (et in c("melanoma", "other")) {
  whole <- finegray(Surv(entry, exit, event) ~ ., id = id, data = mel[, mel_vars], etype = et)
  write_ref(whole[, c("id", "fgstart", "fgstop", "fgstatus", "fgwt")],
            file.path(exp_dir, paste0("competing_fg_melanoma_", et, "_whole.csv")))
  fg_mel[[et]] <- fg_by_stretch(mel[, mel_vars], et)
  write_ref(fg_mel[[et]][, c("id", "fgstart", "fgstop", "fgstatus", "fgwt")],
            file.path(exp_dir, paste0("competing_fg_melanoma_", et, "_stretch.csv")))
}

fg_fits <- list(
  # coxph(Surv(fgstart, fgstop, fgstatus) ~ age + male, weights = fgwt, cluster = id,
  #       data = finegray(Surv(etime, event) ~ ., mg, etype = "pcm"), ties = "breslow")
  mgus2_pcm_breslow = coxph(Surv(fgstart, fgstop, fgstatus) ~ age + male, weights = fgwt,
                            cluster = id, data = fg_mg, ties = "breslow", control = ctrl),
  mgus2_pcm_efron = coxph(Surv(fgstart, fgstop, fgstatus) ~ age + male, weights = fgwt,
                          cluster = id, data = fg_mg, ties = "efron", control = ctrl),
  mgus2_death_efron = coxph(Surv(fgstart, fgstop, fgstatus) ~ age + male, weights = fgwt,
                            cluster = id, data = fg_mg_death, ties = "efron", control = ctrl),
  # finegray(..., weights = w): fgwt already includes w
  mgus2_pcm_weighted = coxph(Surv(fgstart, fgstop, fgstatus) ~ age + male, weights = fgwt,
                             cluster = id, data = fg_mgw, ties = "efron", control = ctrl),
  # age scale (delayed entry)
  mgus2_age_pcm = coxph(Surv(fgstart, fgstop, fgstatus) ~ male + hgb, weights = fgwt,
                        cluster = id, data = fg_age, ties = "efron", control = ctrl),
  # time-varying covariates (tmerge), death with transplant competing
  pbc_death_tv = coxph(Surv(fgstart, fgstop, fgstatus) ~ age + female + log_bili + albumin,
                       weights = fgwt, cluster = id, data = fg_pbc, ties = "efron",
                       control = ctrl),
  # Melanoma, age scale, finegray per stretch of follow-up (see the data notes);
  # n_obs is the stacked per-stretch rows, not comparable with one expansion
  melanoma_age_melanoma = coxph(Surv(fgstart, fgstop, fgstatus) ~ male + ulcer + log_thick,
                                weights = fgwt, cluster = id, data = fg_mel$melanoma,
                                ties = "efron", control = ctrl),
  melanoma_age_other = coxph(Surv(fgstart, fgstop, fgstatus) ~ male + ulcer + log_thick,
                             weights = fgwt, cluster = id, data = fg_mel$other,
                             ties = "breslow", control = ctrl)
)
fg_coef <- do.call(rbind, lapply(names(fg_fits), function(nm) {
  f <- fg_fits[[nm]]
  data.frame(case = nm, term = names(coef(f)), estimate = unname(coef(f)),
             std_error = sqrt(diag(f$naive.var)), robust_std_error = sqrt(diag(f$var)),
             n_obs = as.integer(f$n), n_events = as.integer(f$nevent))
}))
write_ref(fg_coef, file.path(exp_dir, "competing_fg_coefs.csv"))

# ================================================================ 4. crr ===
# cmprsk::crr(etime, fstatus, cov1 = cbind(age, male), failcode, cencode = 0):
# Breslow ties, its own sandwich variance.
crr_rows <- function(fit, case) {
  data.frame(case = case, term = names(fit$coef), estimate = unname(fit$coef),
             std_error = sqrt(diag(fit$var)), converged = fit$converged)
}
ecode <- as.integer(mg$event) - 1L
cov1 <- cbind(age = mg$age, male = mg$male)
# mgus2 with ties broken (etime + id / 10000, all times distinct): crr's
# censoring curve keeps subjects who fail at t in the censoring risk set at t,
# finegray takes them out first; without ties the two weightings coincide.
mg_u <- transform(mg, etime = etime + id / 10000)
fg_u <- finegray(Surv(etime, event) ~ ., data = mg_u[, c("id", "etime", "event", "age", "male")],
                 etype = "pcm")
fit_u <- coxph(Surv(fgstart, fgstop, fgstatus) ~ age + male, weights = fgwt, cluster = id,
               data = fg_u, ties = "breslow", control = ctrl)
write_ref(data.frame(case = "mgus2_untied_pcm_breslow", term = names(coef(fit_u)),
                     estimate = unname(coef(fit_u)), std_error = sqrt(diag(fit_u$naive.var)),
                     robust_std_error = sqrt(diag(fit_u$var))),
          file.path(exp_dir, "competing_fg_untied.csv"))
crr_out <- rbind(
  crr_rows(crr(mg_u$etime, ecode, cov1 = cov1, failcode = 1, cencode = 0,
               gtol = 1e-8, maxiter = 100), "mgus2_untied_pcm"),
  crr_rows(crr(mg$etime, ecode, cov1 = cov1, failcode = 1, cencode = 0,
               gtol = 1e-8, maxiter = 100), "mgus2_pcm"),
  crr_rows(crr(mg$etime, ecode, cov1 = cov1, failcode = 2, cencode = 0,
               gtol = 1e-8, maxiter = 100), "mgus2_death")
)
write_ref(crr_out, file.path(exp_dir, "competing_crr.csv"))

# ========================================== 5. cause-specific Cox (coxph) ===
cs <- list(
  mgus2_pcm = coxph(Surv(etime, event == "pcm") ~ age + male, data = mg, control = ctrl),
  mgus2_death_weighted = coxph(Surv(etime, event == "death") ~ age + male, data = mg,
                               weights = w, robust = TRUE, control = ctrl)
)
cs_coef <- do.call(rbind, lapply(names(cs), function(nm) {
  f <- cs[[nm]]
  data.frame(case = nm, term = names(coef(f)), estimate = unname(coef(f)),
             std_error = sqrt(diag(f$var)))
}))
write_ref(cs_coef, file.path(exp_dir, "competing_cs_coefs.csv"))

# =================================================== 6. Gray's test (cuminc) ===
ci <- cuminc(mg$etime, ecode, group = mg$male, cencode = 0)
write_ref(data.frame(cause = lab[as.integer(rownames(ci$Tests)) + 1],
                     statistic = ci$Tests[, "stat"], p_value = ci$Tests[, "pv"],
                     df = ci$Tests[, "df"]),
          file.path(exp_dir, "competing_gray.csv"))

# More Gray's tests: rho != 0, three groups, strata (cuminc's strata argument),
# Melanoma (time since operation) and data simulated as in the cuminc help-page
# example (rexp times, random group, status and strata: a null case).
# mgus2 age group: findInterval(age, c(60, 75)) = 0 (< 60), 1 (60-74), 2 (>= 75).
gray_rows <- function(ci, case, labels) {
  data.frame(case = case, cause = labels[as.integer(rownames(ci$Tests)) + 1],
             statistic = ci$Tests[, "stat"], p_value = ci$Tests[, "pv"],
             df = ci$Tests[, "df"])
}
set.seed(2)
gex <- data.frame(time = rexp(100),
                  group = sample(c("a", "b", "c"), 100, replace = TRUE),
                  status = sample(0:2, 100, replace = TRUE),
                  strata = sample(1:2, 100, replace = TRUE))
write_ref(gex, file.path(data_dir, "competing_gray_example.csv"))
agegrp <- findInterval(mg$age, c(60, 75))
mel_code <- as.integer(mel$event) - 1L
mel_time <- mel$exit - mel$entry
gray_cases <- rbind(
  gray_rows(cuminc(mg$etime, ecode, group = mg$male, rho = 1), "mgus2_male_rho1", lab),
  gray_rows(cuminc(mg$etime, ecode, group = mg$male, rho = -0.5), "mgus2_male_rho-0.5", lab),
  gray_rows(cuminc(mg$etime, ecode, group = agegrp), "mgus2_agegrp", lab),
  gray_rows(cuminc(mg$etime, ecode, group = agegrp, strata = mg$male),
            "mgus2_agegrp_strata_male", lab),
  gray_rows(cuminc(mel_time, mel_code, group = mel$ulcer), "melanoma_ulcer",
            c("censor", "melanoma", "other")),
  gray_rows(cuminc(mel_time, mel_code, group = mel$ulcer, strata = mel$male, rho = 0.5),
            "melanoma_ulcer_strata_male_rho0.5", c("censor", "melanoma", "other")),
  gray_rows(cuminc(gex$time, gex$status, group = gex$group, strata = gex$strata),
            "example_strata", c("0", "1", "2")),
  gray_rows(cuminc(gex$time, gex$status, group = gex$group, rho = 2), "example_rho2",
            c("0", "1", "2"))
)
write_ref(gray_cases, file.path(exp_dir, "competing_gray_cases.csv"))

writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_competing.txt"))
