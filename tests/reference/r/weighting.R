# Reference values for coacheval.effects.weighting (propensity scores, balancing
# weights, balance statistics, weighted effects with sandwich SEs, AIPW ATT).
#
# Run from the repository root:
#     Rscript tests/reference/r/weighting.R
#
# Needs the Debian packages r-base-core (stats, with the recommended package
# nlme for the data set), r-cran-survival (for the data set) and
# r-cran-sandwich.  WeightIt and cobalt are NOT packaged in Debian, so their
# formulas are written out below in base R, each next to the WeightIt/cobalt
# function it reproduces.  No network access, no CRAN.  Paths are relative
# to the repository root.  The script is deterministic (no random numbers).
#
# Data sets (both public, shipped with R packages):
#
# * hsb: High School and Beyond 1982, nlme::MathAchieve (7185 students) merged
#   with nlme::MathAchSchool (160 schools).  Exposure: attending a Catholic
#   school (Sector == "Catholic"; 3543 students in 70 schools).  Outcome:
#   mathematics achievement (MathAch), which is measured after exposure and
#   is not a covariate.  Covariates: student SES, minority (character
#   "No"/"Yes", a categorical covariate), female (0/1), school mean SES,
#   school size (enrolment) and himinty (school >40% minority, 0/1).  Schools
#   are the clusters.  Why: it is the classic observational "Catholic school
#   effect" problem: non-random selection into a school-level exposure,
#   a continuous outcome and students nested in units, the same shape as
#   leaders nested in units choosing to join a coaching programme.
# * rotterdam: survival::rotterdam (2982 breast-cancer patients).  Treatment:
#   chemo (580 treated); covariates age, meno, size (factor with 3 levels,
#   "<=20" < "20-50" < ">50"), grade (2/3), nodes, er, pgr.  Its outcomes are
#   all censored times, so no effect is estimated on it: it is used for the
#   propensity model (a 3-level factor, strong confounding by age, menopause
#   and nodes), weights, balance and trimming (propensities down to 0.006).
#
# Number format in every CSV: the shortest of sprintf("%.15g"/"%.16g"/
# "%.17g") that reads back as the same double, integers as integers, missing
# values as an empty field, text quoted.


suppressPackageStartupMessages({
  library(sandwich)
  library(survival)
  library(nlme)
})

source(file.path("tests", "reference", "r", "_common.R"))

# ============================================================== 1. data ====
# hsb <- merge(nlme::MathAchieve, nlme::MathAchSchool[, c("School", "Sector",
#              "Size", "HIMINTY")], by = "School")   (then sorted by school, row)
ma <- as.data.frame(MathAchieve)
ma$row0 <- seq_len(nrow(ma))
sch <- MathAchSchool[, c("School", "Sector", "Size", "HIMINTY")]
m <- merge(ma, sch, by = "School", sort = FALSE)
m <- m[order(m$row0), ]
hsb <- data.frame(
  row = seq_len(nrow(m)),
  school = as.character(m$School),
  catholic = as.integer(m$Sector == "Catholic"),
  mathach = as.numeric(m$MathAch),
  ses = as.numeric(m$SES),
  minority = as.character(m$Minority),          # "No" / "Yes"
  female = as.integer(m$Sex == "Female"),
  meanses = as.numeric(m$MEANSES),
  size = as.numeric(m$Size),
  himinty = as.integer(as.character(m$HIMINTY)),
  row.names = NULL
)
stopifnot(nrow(hsb) == 7185, sum(hsb$catholic) == 3543,
          length(unique(hsb$school)) == 160)
write_ref(hsb, file.path(data_dir, "weighting_hsb.csv"))

# rotterdam <- survival::rotterdam (row order kept; size as its factor labels)
rd <- survival::rotterdam
rot <- data.frame(
  row = seq_len(nrow(rd)), pid = rd$pid, year = rd$year, chemo = rd$chemo,
  age = rd$age, meno = rd$meno, size = as.character(rd$size), grade = rd$grade,
  nodes = rd$nodes, er = rd$er, pgr = rd$pgr, row.names = NULL
)
stopifnot(nrow(rot) == 2982, sum(rot$chemo) == 580)
write_ref(rot, file.path(data_dir, "weighting_rotterdam.csv"))
rot$size <- factor(rot$size, levels = c("<=20", "20-50", ">50"))   # R's level order
hsb$minority <- factor(hsb$minority)                                # levels No, Yes

# ================================================ 2. propensity scores =====
# fit <- glm(treat ~ covariates, family = binomial, data,
#            control = glm.control(epsilon = 1e-14, maxit = 100))
# ps  <- fitted(fit)
# epsilon = 1e-14 (default 1e-8) so that the reference is the converged MLE,
# not R's stopping point; coefficients then agree with the default fit to ~1e-9.
ctrl <- glm.control(epsilon = 1e-14, maxit = 100)
f_hsb <- catholic ~ ses + minority + female + meanses + size + himinty
f_rot <- chemo ~ age + meno + size + grade + nodes + er + pgr
fit_hsb <- glm(f_hsb, family = binomial, data = hsb, control = ctrl)
fit_rot <- glm(f_rot, family = binomial, data = rot, control = ctrl)
stopifnot(fit_hsb$converged, fit_rot$converged)

coef_rows <- function(case, fit) {
  s <- summary(fit)$coefficients
  data.frame(case = case, term = rownames(s), estimate = s[, 1],
             std_error = s[, 2], iterations = fit$iter, deviance = deviance(fit),
             row.names = NULL)
}
write_ref(rbind(coef_rows("hsb", fit_hsb), coef_rows("rotterdam", fit_rot)),
          file.path(exp_dir, "weighting_ps_coef.csv"))

# ===================================================== 3. weights ==========
# WeightIt::get_w_from_ps(ps, treat, estimand = "ATT"):
#   treated 1, controls ps / (1 - ps)            (w_att_raw; WeightIt does not normalise)
# coacheval's default additionally scales the controls to sum to n_treated:
#   w_att = w_att_raw, controls * n1 / sum(ps / (1 - ps) over controls)
# WeightIt::get_w_from_ps(ps, treat, estimand = "ATO") (Li, Morgan & Zaslavsky 2018):
#   treated 1 - ps, controls ps                  (not normalised)
make_weights <- function(ps, d) {
  raw <- ifelse(d == 1, 1, ps / (1 - ps))
  att <- raw
  att[d == 0] <- raw[d == 0] * sum(d == 1) / sum(raw[d == 0])
  ato <- ifelse(d == 1, 1 - ps, ps)
  list(att = att, att_raw = raw, ato = ato)
}
ps_hsb <- unname(fitted(fit_hsb)); w_hsb <- make_weights(ps_hsb, hsb$catholic)
ps_rot <- unname(fitted(fit_rot)); w_rot <- make_weights(ps_rot, rot$chemo)
write_ref(rbind(
  data.frame(case = "hsb", row = hsb$row, ps = ps_hsb, w_att = w_hsb$att,
             w_att_raw = w_hsb$att_raw, w_ato = w_hsb$ato),
  data.frame(case = "rotterdam", row = rot$row, ps = ps_rot, w_att = w_rot$att,
             w_att_raw = w_rot$att_raw, w_ato = w_rot$ato)
), file.path(exp_dir, "weighting_ps.csv"))

# ===================================================== 4. balance ==========
# cobalt::bal.tab(covs, treat, weights, estimand, binary = "raw", continuous = "std",
#                 stats = c("m", "v"), un = TRUE), its formulas written out:
# * terms: a numeric with two values is binary (cobalt's binarize: 0 if 0 is one
#   of the values, else the smaller value, is coded 0); a factor with 2 levels gives
#   one 0/1 term for its second level, with 3+ levels one 0/1 term per level
#   (splitfactor(drop.first = "if2")).
# * weighted variance (col.w.v): w <- w / sum(w); m <- sum(w x);
#   binary: m (1 - m); continuous: sum(w (x - m)^2) / (1 - sum(w^2))
#   (unweighted = var(x) with n - 1).
# * diff = weighted mean(treated) - weighted mean(control); for continuous terms it is
#   divided by the standardisation factor s*, the same value before and after
#   weighting (.compute_s.d.denom):
#     ATT -> "treated":  sqrt(unweighted var in the treated)
#     ATE -> "pooled":   sqrt((var_treated + var_control) / 2), unweighted
#     ATO -> "weighted": sqrt(var of the whole sample weighted by the balancing
#                        weights)  (cobalt's .s.d.denom_from_estimand: ATO = "weighted")
#   s* of 0 (< sqrt(.Machine$double.eps)) or non-finite falls back to the unweighted
#   whole-sample SD; a |diff| < sqrt(.Machine$double.eps) is left unstandardised.
#   Binary terms are not standardised (binary = "raw").
# * variance ratio (continuous terms only): weighted var treated / weighted var control.
# * ESS (WeightIt/cobalt): sum(w)^2 / sum(w^2) in each group.
col_w_v <- function(x, w, binary) {
  w <- w / sum(w)
  m <- sum(w * x)
  if (binary) m * (1 - m) else sum(w * (x - m)^2) / (1 - sum(w^2))
}
balance_terms <- function(df, covs) {
  out <- list()
  for (v in covs) {
    x <- df[[v]]
    if (is.factor(x) || is.character(x)) {
      x <- factor(x)
      lv <- levels(x)
      keep <- if (length(lv) == 2) lv[2] else lv
      for (l in keep) out[[paste0(v, "_", l)]] <- list(x = as.numeric(x == l), binary = TRUE)
    } else if (length(unique(x)) == 2) {
      u <- sort(unique(x))
      if (0 %in% u) {
        out[[v]] <- list(x = as.numeric(x != 0), binary = TRUE)
      } else {
        out[[paste0(v, "_", u[2])]] <- list(x = as.numeric(x != u[1]), binary = TRUE)
      }
    } else {
      out[[v]] <- list(x = as.numeric(x), binary = FALSE)
    }
  }
  out
}
balance_table <- function(case, label, df, d, w, covs, s_d_denom) {
  terms <- balance_terms(df, covs)
  tiny <- sqrt(.Machine$double.eps)
  rows <- lapply(names(terms), function(nm) {
    x <- terms[[nm]]$x; b <- terms[[nm]]$binary
    one <- rep(1, length(x))
    m1u <- mean(x[d == 1]); m0u <- mean(x[d == 0])
    m1a <- sum(w[d == 1] * x[d == 1]) / sum(w[d == 1])
    m0a <- sum(w[d == 0] * x[d == 0]) / sum(w[d == 0])
    denom <- switch(s_d_denom,
      treated = sqrt(col_w_v(x[d == 1], one[d == 1], b)),
      pooled = sqrt((col_w_v(x[d == 1], one[d == 1], b) + col_w_v(x[d == 0], one[d == 0], b)) / 2),
      weighted = sqrt(col_w_v(x, w, b)))
    if (!is.finite(denom) || denom < tiny) denom <- sqrt(col_w_v(x, one, b))
    std <- function(diff) if (b || abs(diff) < tiny) diff else diff / denom
    vr <- function(ww) if (b) NA_real_ else
      col_w_v(x[d == 1], ww[d == 1], FALSE) / col_w_v(x[d == 0], ww[d == 0], FALSE)
    data.frame(case = case, estimand = label, term = nm,
               type = if (b) "binary" else "continuous",
               mean_treated_un = m1u, mean_control_un = m0u,
               mean_treated_adj = m1a, mean_control_adj = m0a,
               sd_denom = if (b) NA_real_ else denom,
               diff_un = std(m1u - m0u), diff_adj = std(m1a - m0a),
               var_ratio_un = vr(one), var_ratio_adj = vr(w))
  })
  do.call(rbind, rows)
}
ess_rows <- function(case, label, d, w) {
  ess <- function(z) sum(z)^2 / sum(z^2)
  data.frame(case = case, estimand = label, group = c("treated", "control"),
             n = c(sum(d == 1), sum(d == 0)),
             ess_un = c(sum(d == 1), sum(d == 0)),
             ess_adj = c(ess(w[d == 1]), ess(w[d == 0])))
}
cov_hsb <- c("ses", "minority", "female", "meanses", "size", "himinty")
cov_rot <- c("age", "meno", "size", "grade", "nodes", "er", "pgr")
bal <- rbind(
  balance_table("hsb", "ATT", hsb, hsb$catholic, w_hsb$att, cov_hsb, "treated"),
  balance_table("hsb", "ATO", hsb, hsb$catholic, w_hsb$ato, cov_hsb, "weighted"),
  balance_table("hsb", "ATO_pooled", hsb, hsb$catholic, w_hsb$ato, cov_hsb, "pooled"),
  balance_table("rotterdam", "ATT", rot, rot$chemo, w_rot$att, cov_rot, "treated"),
  balance_table("rotterdam", "ATO", rot, rot$chemo, w_rot$ato, cov_rot, "weighted")
)
write_ref(bal, file.path(exp_dir, "weighting_balance.csv"))
write_ref(rbind(
  ess_rows("hsb", "ATT", hsb$catholic, w_hsb$att),
  ess_rows("hsb", "ATO", hsb$catholic, w_hsb$ato),
  ess_rows("rotterdam", "ATT", rot$chemo, w_rot$att),
  ess_rows("rotterdam", "ATO", rot$chemo, w_rot$ato)
), file.path(exp_dir, "weighting_ess.csv"))

# ========================================= 5. weighted effects (hsb) =======
# fit <- lm(mathach ~ catholic [+ covariates], data = hsb, weights = w)
# HC1: sandwich::vcovHC(fit, type = "HC1")
#      = (X'WX)^-1 [sum_i w_i^2 e_i^2 x_i x_i'] (X'WX)^-1 * n / (n - k)
# CR1: sandwich::vcovCL(fit, cluster = hsb$school, type = "HC1")   (cadjust = TRUE)
#      = G / (G - 1) * (n - 1) / (n - k) * (X'WX)^-1 [sum_g u_g u_g'] (X'WX)^-1,
#        u_g = sum_{i in g} w_i e_i x_i
# Inference (coacheval's convention): HC1 -> normal (df = NA); CR1 -> t with G - 1 df.
# The weights are treated as known (the propensity model's estimation is ignored).
effect_row <- function(method, estimand, fit, vc, type, n_clusters) {
  est <- unname(coef(fit)["catholic"])
  se <- sqrt(vc["catholic", "catholic"])
  stat <- est / se
  if (type == "HC1") {
    df <- NA_real_; p <- 2 * pnorm(-abs(stat)); q <- qnorm(0.975)
  } else {
    df <- n_clusters - 1; p <- 2 * pt(-abs(stat), df); q <- qt(0.975, df)
  }
  data.frame(case = "hsb", method = method, estimand = estimand, vcov = type,
             estimate = est, std_error = se, statistic = stat, df = df, p_value = p,
             conf_low = est - q * se, conf_high = est + q * se,
             n = nobs(fit), n_clusters = if (type == "HC1") NA_integer_ else n_clusters)
}
G <- length(unique(hsb$school))
rhs_adj <- "catholic + ses + minority + female + meanses + size + himinty"
fits <- list(
  list("unadjusted", "none", lm(mathach ~ catholic, data = hsb)),
  list("weighted", "ATT", lm(mathach ~ catholic, data = hsb, weights = w_hsb$att)),
  list("weighted", "ATO", lm(mathach ~ catholic, data = hsb, weights = w_hsb$ato)),
  list("weighted_adjusted", "ATT",
       lm(as.formula(paste("mathach ~", rhs_adj)), data = hsb, weights = w_hsb$att)),
  list("weighted_adjusted", "ATO",
       lm(as.formula(paste("mathach ~", rhs_adj)), data = hsb, weights = w_hsb$ato)),
  list("weighted_adjusted_raw_weights", "ATT",
       lm(as.formula(paste("mathach ~", rhs_adj)), data = hsb, weights = w_hsb$att_raw))
)
eff <- do.call(rbind, lapply(fits, function(f) {
  fit <- f[[3]]
  # the sandwich formulas above, written out, must equal sandwich's
  X <- model.matrix(fit); w <- if (is.null(weights(fit))) rep(1, nobs(fit)) else weights(fit)
  e <- residuals(fit); n <- nrow(X); k <- ncol(X)
  B <- solve(crossprod(X * w, X))
  S <- X * (w * e)
  hc1 <- B %*% crossprod(S) %*% B * n / (n - k)
  U <- rowsum(S, hsb$school)
  cr1 <- B %*% crossprod(U) %*% B * G / (G - 1) * (n - 1) / (n - k)
  v_hc1 <- vcovHC(fit, type = "HC1")
  v_cr1 <- vcovCL(fit, cluster = hsb$school, type = "HC1")
  stopifnot(isTRUE(all.equal(unname(hc1), unname(v_hc1), tolerance = 1e-12)),
            isTRUE(all.equal(unname(cr1), unname(v_cr1), tolerance = 1e-12)))
  rbind(effect_row(f[[1]], f[[2]], fit, v_hc1, "HC1", G),
        effect_row(f[[1]], f[[2]], fit, v_cr1, "CR1", G))
}))
write_ref(eff, file.path(exp_dir, "weighting_effects.csv"))

# ============================ 5b. weighted effects, M-estimation SE (hsb) ===
# variance = "m_estimation": the weighted regression stacked with the logit (and, for
# rescaled ATT weights, the rescaling constant c) as one M-estimator, theta = (gamma, [c], beta):
#   U_gamma = (D - p) X;   U_c = (1 - D) c p / (1 - p) - D;   U_beta = w (y - Z beta) Z,
#   w = D + (1 - D) c p/(1-p) (ATT; c = 1 when not rescaled) or D (1 - p) + (1 - D) p (ATO).
#   V = A^-1 B A^-T / n,  A = -d mean(U) / d theta,  B = mean(U U') (iid) or
#   G / (G - 1) * sum_g (sum_{i in g} IF_i)(...)' / n with IF_i = A^-1 U_i (clustered).
# Here A is found by central finite differences of mean(U) (step 1e-6 max(1, |theta_j|)), an
# independent route from coacheval's analytic derivative; agreement is ~1e-8 relative.
# (WeightIt's glm_weightit(vcov = "asympt") is the same idea for unrescaled weights.)
mest_row <- function(method, estimand, fit, w_kind, clustered) {
  Z <- model.matrix(fit); y <- hsb$mathach; d <- hsb$catholic
  Xps <- model.matrix(fit_hsb); kg <- ncol(Xps)
  gamma <- coef(fit_hsb); beta <- coef(fit)
  has_c <- w_kind == "att"
  c0 <- sum(d) / sum((ps_hsb / (1 - ps_hsb))[d == 0])
  theta <- c(gamma, if (has_c) c0, beta)
  kc <- as.integer(has_c)
  U <- function(th) {
    g <- th[1:kg]; p <- plogis(drop(Xps %*% g)); odds <- p / (1 - p)
    b <- th[(kg + kc + 1):length(th)]
    w <- switch(w_kind, att = d + (1 - d) * th[kg + 1] * odds, att_raw = d + (1 - d) * odds,
                ato = ifelse(d == 1, 1 - p, p))
    cbind((d - p) * Xps, if (has_c) (1 - d) * th[kg + 1] * odds - d,
          (w * drop(y - Z %*% b)) * Z)
  }
  K <- length(theta); n <- length(y); J <- matrix(0, K, K)
  for (j in seq_len(K)) {
    h <- 1e-6 * max(1, abs(theta[j])); tp <- theta; tm <- theta
    tp[j] <- tp[j] + h; tm[j] <- tm[j] - h
    J[, j] <- (colMeans(U(tp)) - colMeans(U(tm))) / (2 * h)
  }
  IF <- U(theta) %*% t(solve(-J))
  if (clustered) {
    S <- rowsum(IF, hsb$school); V <- crossprod(S) * G / (G - 1) / n^2
  } else {
    V <- crossprod(IF) / n^2
  }
  jb <- kg + kc + which(colnames(Z) == "catholic")
  est <- unname(coef(fit)["catholic"]); se <- sqrt(V[jb, jb]); stat <- est / se
  if (clustered) {
    df <- G - 1; p <- 2 * pt(-abs(stat), df); q <- qt(0.975, df)
  } else {
    df <- NA_real_; p <- 2 * pnorm(-abs(stat)); q <- qnorm(0.975)
  }
  data.frame(case = "hsb", method = method, estimand = estimand,
             vcov = if (clustered) "M-estimation, clustered" else "M-estimation",
             estimate = est, std_error = se, statistic = stat, df = df, p_value = p,
             conf_low = est - q * se, conf_high = est + q * se, n = n,
             n_clusters = if (clustered) G else NA_integer_)
}
mest_specs <- list(
  list("weighted", "ATT", fits[[2]][[3]], "att"),
  list("weighted", "ATO", fits[[3]][[3]], "ato"),
  list("weighted_adjusted", "ATT", fits[[4]][[3]], "att"),
  list("weighted_adjusted", "ATO", fits[[5]][[3]], "ato"),
  list("weighted_adjusted_raw_weights", "ATT", fits[[6]][[3]], "att_raw")
)
mest <- do.call(rbind, lapply(mest_specs, function(s)
  rbind(mest_row(s[[1]], s[[2]], s[[3]], s[[4]], FALSE),
        mest_row(s[[1]], s[[2]], s[[3]], s[[4]], TRUE))))
write_ref(mest, file.path(exp_dir, "weighting_effects_mest.csv"))

# ============================================= 6. AIPW / DR ATT (hsb) ======
# Sant'Anna & Zhao (2020) doubly-robust ATT with a single post-period outcome
# (DRDID::drdid_panel with deltaY replaced by Y; DRDID is not in Debian, so the
# formulas of drdid_panel are written out).  p = logit propensity score (glm above),
# m0(x) = OLS of Y on X among the controls (intercept + the same covariates), and
#   w1 = D,  w0 = p (1 - D) / (1 - p)
#   ATT = mean(w1 (Y - m0)) / mean(w1) - mean(w0 (Y - m0)) / mean(w0)
# Influence function (estimation of p and m0 included, as in drdid_panel):
#   eta1 = mean(w1 (Y - m0)) / mean(w1), eta0 = mean(w0 (Y - m0)) / mean(w0)
#   alr_ps  = (D - p) X  %*% (n * vcov(glm))              (n x k)
#   alr_ols = (1 - D) (Y - m0) X %*% solve(crossprod((1 - D) X, X) / n)
#   inf_treat = (w1 (Y - m0) - w1 eta1 - alr_ols %*% colMeans(w1 X)) / mean(w1)
#   inf_cont  = (w0 (Y - m0) - w0 eta0 + alr_ps %*% colMeans(w0 (Y - m0 - eta0) X)
#                - alr_ols %*% colMeans(w0 X)) / mean(w0)
#   IF = inf_treat - inf_cont;  SE = sd(IF) / sqrt(n)   (drdid_panel's se)
# Cluster version: SE = sqrt(G / (G - 1) * sum_g (sum_{i in g} IF_i)^2) / n.
# CIs: normal.
X <- model.matrix(f_hsb, data = hsb)
D <- hsb$catholic; Y <- hsb$mathach; n <- length(Y)
p <- ps_hsb
ols <- lm.fit(X[D == 0, ], Y[D == 0])
m0 <- drop(X %*% ols$coefficients)
w1 <- D; w0 <- p * (1 - D) / (1 - p)
eta1 <- mean(w1 * (Y - m0)) / mean(w1); eta0 <- mean(w0 * (Y - m0)) / mean(w0)
att_dr <- eta1 - eta0
alr_ps <- ((D - p) * X) %*% (vcov(fit_hsb) * n)
alr_ols <- ((1 - D) * (Y - m0) * X) %*% solve(crossprod((1 - D) * X, X) / n)
inf_treat <- (w1 * (Y - m0) - w1 * eta1 - alr_ols %*% colMeans(w1 * X)) / mean(w1)
inf_cont <- (w0 * (Y - m0) - w0 * eta0 + alr_ps %*% colMeans(w0 * (Y - m0 - eta0) * X) -
               alr_ols %*% colMeans(w0 * X)) / mean(w0)
IF <- drop(inf_treat - inf_cont)
se_iid <- sd(IF) / sqrt(n)
se_cl <- sqrt(G / (G - 1) * sum(rowsum(IF, hsb$school)^2)) / n
aipw_row <- function(type, se, nc) {
  data.frame(case = "hsb", vcov = type, estimate = att_dr, std_error = se,
             statistic = att_dr / se, p_value = 2 * pnorm(-abs(att_dr / se)),
             conf_low = att_dr - qnorm(0.975) * se, conf_high = att_dr + qnorm(0.975) * se,
             n = n, n_clusters = nc, n_treated = sum(D), mean_if = mean(IF))
}
write_ref(rbind(aipw_row("IF", se_iid, NA_integer_), aipw_row("IF_cluster", se_cl, G)),
          file.path(exp_dir, "weighting_aipw.csv"))

# ===================================================== 7. trimming =========
# Bounds: keep lower <= ps <= upper (inclusive, as WeightIt's between()).
# Crump et al. (2009) rule as WeightIt::get_w_from_ps(estimand = "ATOS") computes it:
#   ps.sorted <- sort(c(ps, 1 - ps)); q <- ps (1 - ps)
#   alpha = the first ps.sorted[i] (i = 1..sum(ps < .5)) with
#           1 / (alpha (1 - alpha)) <= 2 * sum(1 / q[q >= a]) / sum(q >= a),
#           a = alpha (1 - alpha);  0 if none.   Keep alpha <= ps <= 1 - alpha.
crump_alpha <- function(ps) {
  ps.sorted <- sort(c(ps, 1 - ps))
  q <- ps * (1 - ps)
  alpha.opt <- 0
  for (i in seq_len(sum(ps < .5))) {
    if (i == 1 || abs(ps.sorted[i] - ps.sorted[i - 1]) >= sqrt(.Machine$double.eps)) {
      alpha <- ps.sorted[i]
      a <- alpha * (1 - alpha)
      if (1 / a <= 2 * sum(1 / q[q >= a]) / sum(q >= a)) {
        alpha.opt <- alpha
        break
      }
    }
  }
  alpha.opt
}
trim_row <- function(case, rule, ps, d, lower, upper) {
  keep <- ps >= lower & ps <= upper
  data.frame(case = case, rule = rule, lower = lower, upper = upper,
             n_dropped_treated = sum(!keep & d == 1), n_dropped_control = sum(!keep & d == 0),
             n_kept = sum(keep))
}
a_rot <- crump_alpha(ps_rot); a_hsb <- crump_alpha(ps_hsb)
write_ref(rbind(
  trim_row("rotterdam", "bounds", ps_rot, rot$chemo, 0.01, 0.99),
  trim_row("rotterdam", "bounds", ps_rot, rot$chemo, 0.05, 0.95),
  trim_row("rotterdam", "crump", ps_rot, rot$chemo, a_rot, 1 - a_rot),
  trim_row("hsb", "crump", ps_hsb, hsb$catholic, a_hsb, 1 - a_hsb)
), file.path(exp_dir, "weighting_trim.csv"))

writeLines(capture.output(sessionInfo()),
           file.path(exp_dir, "sessionInfo_weighting.txt"))
message("done: weighting reference files written to ", exp_dir)
