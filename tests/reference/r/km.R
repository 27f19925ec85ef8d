# Reference values for coacheval.retention.km (kaplan_meier, logrank_test) and
# coacheval.retention.rmst (rmst): Kaplan-Meier curves with Greenwood and
# robust (infinitesimal-jackknife) standard errors, log-log / log / plain
# confidence limits, medians, numbers at risk, the log-rank test (plain and
# stratified) and restricted mean survival times.
#
# Run from the repository root:
#     Rscript tests/reference/r/km.R
#
# Needs r-base-core and r-cran-survival only (survRM2 is not packaged for this
# Debian release, so the RMST reference is survival's own print(fit, rmean=)).
# Deterministic: no random numbers.
#
# Data sets (public, shipped with survival):
#
# * lung: survival::lung, complete cases on time, status, sex, age, ph.ecog
#   (227 rows).  event = status - 1, id = row number.  w is an inverse
#   probability of sex given age: p = fitted(glm(sex == 2 ~ age, binomial)),
#   w = 1/p for women and 1/(1 - p) for men (a propensity-type weight).
# * heart: survival::heart, Stanford heart transplant in counting-process form
#   (start, stop]; transplant (0/1) varies within a patient, so a curve by
#   transplant is the Simon-Makuch estimator; w = 1 + surgery.
#
# Number format in every CSV: see _common.R.

suppressPackageStartupMessages(library(survival))

source(file.path("tests", "reference", "r", "_common.R"))

# ================================================================ 1. data ===
lung0 <- survival::lung[complete.cases(survival::lung[, c("time", "status", "sex", "age",
                                                          "ph.ecog")]), ]
lung_d <- data.frame(id = seq_len(nrow(lung0)), time = lung0$time,
                     event = as.integer(lung0$status - 1L), sex = as.integer(lung0$sex),
                     age = lung0$age, ph_ecog = as.integer(lung0$ph.ecog))
ps <- fitted(glm(I(sex == 2) ~ age, family = binomial, data = lung_d))
lung_d$w <- ifelse(lung_d$sex == 2, 1 / ps, 1 / (1 - ps))
write_ref(lung_d, file.path(data_dir, "km_lung.csv"))

heart_d <- data.frame(id = as.integer(survival::heart$id), start = survival::heart$start,
                      stop = survival::heart$stop, event = as.integer(survival::heart$event),
                      transplant = as.integer(as.character(survival::heart$transplant)),
                      surgery = as.integer(survival::heart$surgery))
heart_d$w <- 1 + heart_d$surgery
write_ref(heart_d, file.path(data_dir, "km_heart.csv"))

# ================================================================ 2. curves ===
# Every fit is run once per conf.type; robust = FALSE is explicit where weights
# are used without id (survfit's default for single-state curves).
specs <- list(
  lung_sex = list(f = Surv(time, event) ~ sex, d = lung_d),
  lung_all = list(f = Surv(time, event) ~ 1, d = lung_d),
  heart_transplant = list(f = Surv(start, stop, event) ~ transplant, d = heart_d),
  heart_all = list(f = Surv(start, stop, event) ~ 1, d = heart_d),
  lung_sex_weighted = list(f = Surv(time, event) ~ sex, d = lung_d, w = TRUE, robust = FALSE),
  lung_sex_robust = list(f = Surv(time, event) ~ sex, d = lung_d, id = TRUE, robust = TRUE),
  lung_sex_weighted_robust = list(f = Surv(time, event) ~ sex, d = lung_d, w = TRUE,
                                  id = TRUE, robust = TRUE),
  heart_transplant_weighted_robust = list(f = Surv(start, stop, event) ~ transplant,
                                          d = heart_d, w = TRUE, id = TRUE, robust = TRUE)
)

fit_one <- function(s, conf.type) {
  args <- list(formula = s$f, data = s$d, conf.type = conf.type)
  if (isTRUE(s$w)) args$weights <- s$d$w
  if (isTRUE(s$id)) args$id <- s$d$id
  if (!is.null(s$robust)) args$robust <- s$robust
  if (isTRUE(s$robust)) args$influence <- TRUE
  do.call(survfit, args)
}

group_of <- function(fit) {
  if (is.null(fit$strata)) return(rep("all", length(fit$time)))
  lv <- sub("^[^=]*=", "", names(fit$strata))
  rep(lv, fit$strata)
}

curve_rows <- list(); median_rows <- list(); fits <- list()
for (nm in names(specs)) {
  s <- specs[[nm]]
  f_ll <- fit_one(s, "log-log"); f_lg <- fit_one(s, "log"); f_pl <- fit_one(s, "plain")
  fits[[nm]] <- f_ll
  # std.err of S: survfit stores the SE of log S (logse = TRUE) except for
  # robust fits, where it stores the SE of S itself (logse = FALSE)
  se_s <- if (isTRUE(f_ll$logse)) f_ll$std.err * f_ll$surv else f_ll$std.err
  curve_rows[[nm]] <- data.frame(case = nm, group = group_of(f_ll), time = f_ll$time,
                                 n_risk = f_ll$n.risk, n_event = f_ll$n.event,
                                 n_censor = f_ll$n.censor, survival = f_ll$surv,
                                 std_error = se_s,
                                 conf_low_loglog = f_ll$lower, conf_high_loglog = f_ll$upper,
                                 conf_low_log = f_lg$lower, conf_high_log = f_lg$upper,
                                 conf_low_plain = f_pl$lower, conf_high_plain = f_pl$upper)
  for (ct in c("log-log", "log", "plain")) {
    fx <- switch(ct, "log-log" = f_ll, "log" = f_lg, "plain" = f_pl)
    tab <- summary(fx)$table
    if (is.null(dim(tab))) tab <- t(as.matrix(tab))
    q <- quantile(fx, probs = 0.5)
    grp <- if (is.null(fx$strata)) "all" else sub("^[^=]*=", "", names(fx$strata))
    median_rows[[paste(nm, ct)]] <- data.frame(
      case = nm, conf_type = ct, group = grp, median = unname(tab[, "median"]),
      conf_low = unname(tab[, "0.95LCL"]), conf_high = unname(tab[, "0.95UCL"]),
      quantile_median = unname(as.vector(q$quantile)),
      quantile_low = unname(as.vector(q$lower)), quantile_high = unname(as.vector(q$upper)))
  }
}
write_ref(do.call(rbind, curve_rows), file.path(exp_dir, "km_curves.csv"))
write_ref(do.call(rbind, median_rows), file.path(exp_dir, "km_medians.csv"))

# numbers at risk and survival at given times: summary(fit, times = )
at_times <- c(0, 100, 180.5, 365, 730, 900)
sm <- summary(fits[["lung_sex"]], times = at_times, extend = TRUE)
write_ref(data.frame(case = "lung_sex", group = sub("^[^=]*=", "", as.character(sm$strata)),
                     time = sm$time, n_risk = sm$n.risk, survival = sm$surv,
                     std_error = sm$std.err),
          file.path(exp_dir, "km_at_times.csv"))
sm <- summary(fits[["heart_transplant"]], times = c(0, 10, 50.5, 200, 1000), extend = TRUE)
write_ref(data.frame(case = "heart_transplant",
                     group = sub("^[^=]*=", "", as.character(sm$strata)),
                     time = sm$time, n_risk = sm$n.risk, survival = sm$surv,
                     std_error = sm$std.err),
          file.path(exp_dir, "km_at_times_heart.csv"))

# ================================================================ 3. log-rank ===
sd_rows <- list(); sd_groups <- list()
add_sd <- function(nm, sd) {
  df <- length(sd$n) - 1L
  sd_rows[[nm]] <<- data.frame(case = nm, statistic = sd$chisq, df = df,
                               p_value = pchisq(sd$chisq, df, lower.tail = FALSE))
  obs <- if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs
  ex <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
  sd_groups[[nm]] <<- data.frame(case = nm, group = sub("^[^=]*=", "", names(sd$n)),
                                 n = as.integer(sd$n), observed = obs, expected = ex,
                                 variance = diag(as.matrix(sd$var)))
}
# survdiff(Surv(time, event) ~ sex, data = lung_d)
add_sd("lung_sex", survdiff(Surv(time, event) ~ sex, data = lung_d))
# survdiff(Surv(time, event) ~ ph_ecog, data = lung_d)   (4 groups, one of size 1)
add_sd("lung_ecog", survdiff(Surv(time, event) ~ ph_ecog, data = lung_d))
# survdiff(Surv(time, event) ~ sex + strata(ph_ecog), data = lung_d)
add_sd("lung_sex_strata_ecog", survdiff(Surv(time, event) ~ sex + strata(ph_ecog),
                                        data = lung_d))
write_ref(do.call(rbind, sd_rows), file.path(exp_dir, "km_logrank.csv"))
write_ref(do.call(rbind, sd_groups), file.path(exp_dir, "km_logrank_groups.csv"))

# Counting-process data: survdiff does not take Surv(start, stop, event).  The
# score test of coxph at beta = 0 is the log-rank test on the (start, stop]
# risk sets; only ties = "exact" (the discrete logistic likelihood) gives the
# hypergeometric variance sum d (n - d) / (n - 1) * p (1 - p).  Breslow and
# Efron are kept to document the difference.  On lung the exact score test
# equals survdiff's chi-square.
score_rows <- list()
for (ties in c("exact", "breslow", "efron")) {
  for (case in c("heart_transplant", "heart_transplant_strata_surgery", "lung_sex")) {
    fit <- switch(case,
      heart_transplant = coxph(Surv(start, stop, event) ~ transplant, data = heart_d,
                               ties = ties),
      heart_transplant_strata_surgery = coxph(Surv(start, stop, event) ~ transplant +
                                                strata(surgery), data = heart_d, ties = ties),
      lung_sex = coxph(Surv(time, event) ~ sex, data = lung_d, ties = ties))
    score_rows[[paste(case, ties)]] <- data.frame(case = case, ties = ties,
                                                  statistic = unname(fit$score), df = 1L)
  }
}
write_ref(do.call(rbind, score_rows), file.path(exp_dir, "km_score.csv"))

# ================================================================ 4. RMST ===
# summary(fit, rmean = tau)$table gives rmean and se(rmean) (survmean's
# Greenwood-type plug-in: sum over event times of (area beyond t)^2 d / (n (n - d))).
# For the robust fits the infinitesimal-jackknife SE of the RMST is the
# square root of the sum of squares of the per-id influence of the area
# under the curve, integrated from fit$influence.surv.
rm_rows <- list()
for (nm in names(specs)) {
  for (tau in c(365, 730)) {
    if (grepl("^heart", nm) && tau == 730) tau <- 1000
    fx <- fits[[nm]]
    tab <- summary(fx, rmean = tau)$table
    if (is.null(dim(tab))) tab <- t(as.matrix(tab))
    grp <- if (is.null(fx$strata)) "all" else sub("^[^=]*=", "", names(fx$strata))
    ij <- rep(NA_real_, length(grp))
    if (!is.null(fx$influence.surv)) {
      infl <- fx$influence.surv
      if (!is.list(infl)) infl <- list(infl)
      for (g in seq_along(grp)) {
        fg <- if (is.null(fx$strata)) fx else fx[g]
        tt <- fg$time
        keep <- tt < tau
        width <- diff(c(tt[keep], tau))
        a <- infl[[g]][, keep, drop = FALSE] %*% width
        ij[g] <- sqrt(sum(a^2))
      }
    }
    rm_rows[[paste(nm, tau)]] <- data.frame(case = nm, group = grp, tau = tau,
                                            rmean = unname(tab[, "rmean"]),
                                            se_rmean = unname(tab[, "se(rmean)"]),
                                            se_rmean_ij = ij)
  }
}
write_ref(do.call(rbind, rm_rows), file.path(exp_dir, "km_rmst.csv"))

writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_km.txt"))
