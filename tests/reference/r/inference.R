# Reference values for coacheval.effects.inference (OLS/WLS and sandwich variances).
#
# Run from the repository root:
#     Rscript tests/reference/r/inference.R
#
# Needs the Debian packages r-base-core, r-cran-sandwich (for the data set
# `PetersenCL` and vcovHC/vcovCL) and r-cran-clubsandwich (vcovCR, coef_test).
# r-cran-estimatr is used only for a cross-check (lm_robust CR2 == clubSandwich
# CR2), nothing from it is written.  No network access, no CRAN.
#
# Data: sandwich::PetersenCL, the public simulated firm-year panel of Petersen
# (2009, RFS 22:435-480): 500 firms x 10 years, columns firm, year, x, y.  A
# weight column is added for the weighted regression:
#     w = 1 / plogis(0.25 + 0.5 * x)
# (a positive, smooth function of a regressor, shaped like inverse propensity
# weights; range about 1.1 to 10).
#
# Number format: every number is written with sprintf("%.17g"), which reads
# back as the same IEEE double; integers as integers.  The script is
# deterministic (no random numbers).
#
# Outputs (tests/reference/expected/):
#   inference_coefs.csv   one row per (model, vcov, term): term, estimate,
#                         std_error, statistic, df, p_value, conf_low,
#                         conf_high, n, n_clusters  (coacheval's vocabulary)
#   inference_vcov.csv    every entry of every variance matrix (model, vcov,
#                         row, col, value)
#   sessionInfo_inference.txt
#
# Models (d = the data written to data/inference_petersen.csv):
#   ols    <- lm(y ~ x, data = d)
#   wls    <- lm(y ~ x, data = d, weights = w)
#   ols_fe <- lm(y ~ x + factor(year), data = d)
#
# Variance estimators (V) and degrees of freedom (df) used for the t tables:
#   iid    V = vcov(fit)                                        df = n - k
#   HC0..3 V = sandwich::vcovHC(fit, type = "HCj")             df = n - k
#          (what lmtest::coeftest(fit, vcov = V) does: residual df)
#   CR0    V = sandwich::vcovCL(fit, cluster = ~firm, type = "HC0", cadjust = FALSE)
#            ( == clubSandwich::vcovCR(fit, cluster = d$firm, type = "CR0"), checked )
#                                                               df = G - 1
#   CR1    V = sandwich::vcovCL(fit, cluster = ~firm)   (defaults for lm:
#            type = "HC1", cadjust = TRUE, multi0 = FALSE, fix = FALSE, i.e.
#            G/(G-1) * (n-1)/(n-k) times the CR0 meat;
#            == clubSandwich::vcovCR(..., type = "CR1S"), checked)
#                                                               df = G - 1
#          two-way: sandwich::vcovCL(fit, cluster = ~firm + year)
#            = V_firm + V_year - V_firm:year, each with its own G/(G-1) and the
#            common (n-1)/(n-k)                                  df = min(G) - 1
#   CR2    V = clubSandwich::vcovCR(fit, cluster = d$firm, type = "CR2")
#          df = clubSandwich::coef_test(fit, vcov = V, test = "Satterthwaite")$df_Satt
#          (target = NULL: inverse_var = TRUE for unweighted lm, and for the
#          weighted lm inverse_var = FALSE with working variance Theta = I)
# p_value = 2 * pt(-abs(estimate / std_error), df);
# conf_low/high = estimate -/+ qt(0.975, df) * std_error.


suppressPackageStartupMessages({
  library(sandwich)
  library(clubSandwich)
  library(estimatr)
})

source(file.path("tests", "reference", "r", "_common.R"))

# ------------------------------------------------------------------ data ---
data("PetersenCL", package = "sandwich")
d <- PetersenCL
stopifnot(nrow(d) == 5000, length(unique(d$firm)) == 500, length(unique(d$year)) == 10)
d$w <- 1 / plogis(0.25 + 0.5 * d$x)
write_ref(d[, c("firm", "year", "x", "y", "w")], file.path(data_dir, "inference_petersen.csv"))
# read back what was written, so R and Python fit on the same doubles
d <- read.csv(file.path(data_dir, "inference_petersen.csv"))

ols    <- lm(y ~ x, data = d)
wls    <- lm(y ~ x, data = d, weights = w)
ols_fe <- lm(y ~ x + factor(year), data = d)
models <- list(ols = ols, wls = wls, ols_fe = ols_fe)

n_groups <- function(...) min(vapply(list(...), function(g) length(unique(g)), 1))

# each entry: model, vcov label, cluster spec label, V, df (vector), G
cases <- list()
add_case <- function(model, vcov, cluster, V, df, G) {
  cases[[length(cases) + 1]] <<- list(model = model, vcov = vcov, cluster = cluster,
                                       V = V, df = df, G = G)
}

for (m in names(models)) {
  fit <- models[[m]]
  k <- length(coef(fit))
  rdf <- fit$df.residual
  # ---- iid and HC: V = vcov(fit); sandwich::vcovHC(fit, type = "HC0".."HC3")
  if (m != "ols_fe") {
    add_case(m, "iid", "", vcov(fit), rep(rdf, k), NA_integer_)
    for (ty in c("HC0", "HC1", "HC2", "HC3"))
      add_case(m, ty, "", vcovHC(fit, type = ty), rep(rdf, k), NA_integer_)
  } else {
    add_case(m, "HC1", "", vcovHC(fit, type = "HC1"), rep(rdf, k), NA_integer_)
  }
  # ---- CR0: sandwich::vcovCL(fit, cluster = ~firm, type = "HC0", cadjust = FALSE)
  if (m == "ols") {
    V0 <- vcovCL(fit, cluster = ~firm, type = "HC0", cadjust = FALSE)
    stopifnot(isTRUE(all.equal(unclass(V0),
      as.matrix(vcovCR(fit, cluster = d$firm, type = "CR0")), check.attributes = FALSE,
      tolerance = 1e-12)))
    add_case(m, "CR0", "firm", V0, rep(n_groups(d$firm) - 1, k), n_groups(d$firm))
    V0two <- vcovCL(fit, cluster = ~firm + year, type = "HC0", cadjust = FALSE)
    add_case(m, "CR0", "firm+year", V0two, rep(n_groups(d$firm, d$year) - 1, k),
             n_groups(d$firm, d$year))
  }
  # ---- CR1: sandwich::vcovCL(fit, cluster = ~firm) (type = "HC1" is the lm default)
  V1 <- vcovCL(fit, cluster = ~firm)
  stopifnot(isTRUE(all.equal(unclass(V1), unclass(vcovCL(fit, cluster = ~firm, type = "HC1")))))
  stopifnot(isTRUE(all.equal(unclass(V1),
    as.matrix(vcovCR(fit, cluster = d$firm, type = "CR1S")), check.attributes = FALSE,
    tolerance = 1e-12)))
  add_case(m, "CR1", "firm", V1, rep(n_groups(d$firm) - 1, k), n_groups(d$firm))
  if (m != "ols_fe") {
    # sandwich::vcovCL(fit, cluster = ~year)
    add_case(m, "CR1", "year", vcovCL(fit, cluster = ~year), rep(n_groups(d$year) - 1, k),
             n_groups(d$year))
    # sandwich::vcovCL(fit, cluster = ~firm + year)   (two-way, Cameron-Gelbach-Miller)
    add_case(m, "CR1", "firm+year", vcovCL(fit, cluster = ~firm + year),
             rep(n_groups(d$firm, d$year) - 1, k), n_groups(d$firm, d$year))
  }
  # ---- CR2: clubSandwich::vcovCR(fit, cluster = d$firm, type = "CR2")
  #           clubSandwich::coef_test(fit, vcov = V2, test = "Satterthwaite")
  cl_list <- if (m == "ols_fe") c("firm") else c("firm", "year")
  for (cl in cl_list) {
    V2 <- vcovCR(fit, cluster = d[[cl]], type = "CR2")
    ct <- coef_test(fit, vcov = V2, test = "Satterthwaite")
    add_case(m, "CR2", cl, as.matrix(V2), ct$df_Satt, n_groups(d[[cl]]))
    # cross-check with estimatr (same CR2 matrix for lm with or without weights)
    lr <- if (m == "wls") {
      lm_robust(y ~ x, data = d, weights = w, clusters = d[[cl]], se_type = "CR2")
    } else if (m == "ols") {
      lm_robust(y ~ x, data = d, clusters = d[[cl]], se_type = "CR2")
    } else {
      lm_robust(y ~ x + factor(year), data = d, clusters = d[[cl]], se_type = "CR2")
    }
    stopifnot(isTRUE(all.equal(unname(lr$std.error), unname(sqrt(diag(as.matrix(V2)))),
                               tolerance = 1e-10)))
  }
}

# ----------------------------------------------------------------- write ---
coef_rows <- list()
vcov_rows <- list()
for (cs in cases) {
  fit <- models[[cs$model]]
  b <- coef(fit)
  V <- unclass(as.matrix(cs$V))
  attributes(V) <- attributes(V)[c("dim", "dimnames")]
  se <- sqrt(diag(V))
  tstat <- b / se
  q <- qt(0.975, cs$df)
  coef_rows[[length(coef_rows) + 1]] <- data.frame(
    model = cs$model, vcov = cs$vcov, cluster = cs$cluster, term = names(b),
    estimate = unname(b), std_error = unname(se), statistic = unname(tstat),
    df = as.numeric(cs$df), p_value = unname(2 * pt(-abs(tstat), cs$df)),
    conf_low = unname(b - q * se), conf_high = unname(b + q * se),
    n = nobs(fit), n_clusters = cs$G)
  vcov_rows[[length(vcov_rows) + 1]] <- data.frame(
    model = cs$model, vcov = cs$vcov, cluster = cs$cluster,
    row = rep(rownames(V), times = ncol(V)), col = rep(colnames(V), each = nrow(V)),
    value = as.vector(V))
}
write_ref(do.call(rbind, coef_rows), file.path(exp_dir, "inference_coefs.csv"))
write_ref(do.call(rbind, vcov_rows), file.path(exp_dir, "inference_vcov.csv"))
writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_inference.txt"))
cat("wrote", length(cases), "cases\n")
