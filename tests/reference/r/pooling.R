# Reference values for coacheval.effects.pooling / imputation / multiplicity.
#
# Run from the repository root:
#     Rscript tests/reference/r/pooling.R
#
# Needs the Debian packages r-base-core and r-cran-mice (mice 3.15.0 was
# used; `sessionInfo()` goes to expected/sessionInfo_pooling.txt).  No
# network access, no CRAN.  All paths are relative to the repository root.
#
# What is written (numbers: shortest of %.15g/%.16g/%.17g that reads back as
# the same double; missing values as an empty field; text quoted):
#
# data/pooling_nhanes.csv   mice::nhanes (25 rows: age 1-3, bmi, hyp 1/2, chl)
#                           with `id` = row number.
# data/pooling_nhanes2.csv  mice::nhanes2 (same rows; age and hyp as factors,
#                           written as their labels).
# data/pooling_boys.csv     mice::boys restricted to the 727 rows with age,
#                           hgt and wgt observed; columns id (row number in
#                           boys), age, hgt, wgt, hc (43 hc missing).
#
# expected/pooling_per_imputation.csv
#     case, imputation, term, estimate, std_error: the coefficient table of
#     each completed-data fit, i.e. summary(fit$analyses[[i]])$coefficients
#     (mice::pool uses broom's tidy(), the same numbers; pool() squares
#     std.error to get the within-imputation variance).
# expected/pooling_vcov.csv
#     case, imputation, row, col, value: vcov() of each completed-data fit.
# expected/pooling_pooled.csv
#     case, term, m, estimate, std_error, statistic, df, p_value, conf_low,
#     conf_high, riv, lambda, fmi, ubar, b, t, dfcom:
#     summary(pool(fit), type = "all", conf.int = TRUE) (95% t interval).
# expected/pooling_scalar.csv
#     case, m, qbar, ubar, b, t, df, r, fmi, dfcom from mice::pool.scalar().
# expected/pooling_p_adjust.csv
#     case, index, p, bh, holm, bh_n: p.adjust(p, "BH"), p.adjust(p, "holm")
#     and p.adjust(p, "BH", n = n_explicit) (NA where not computed).
# expected/pooling_imputed_rows.csv
#     method, id, n_draws, mean, var: for each of the 43 boys rows with hc
#     missing, the mean and variance (n - 1) of its imputed hc over 2000
#     imputations by mice's "norm" or "pmm" (5 donors), with hc imputed from
#     age, hgt and wgt only (one incomplete variable, so maxit = 1 is the
#     full algorithm).
#
# Cases (all 95% intervals; dfcom is what pool() takes from glance():
# df.residual of the completed-data fit):
#   nhanes_lm      imp <- mice(nhanes, m = 5, seed = 20261201)
#                  fit <- with(imp, lm(chl ~ age + bmi)); pool(fit)  (dfcom 22)
#   nhanes_lm_inf  same fits, pool(fit, dfcom = Inf): Rubin's (1987) df
#   nhanes2_lm     imp2 <- mice(nhanes2, m = 20, seed = 20261202)
#                  fit <- with(imp2, lm(chl ~ age + bmi + hyp)); pool(fit)   (dfcom 20)
#   nhanes2_glm    fit <- with(imp2, glm(hyp ~ bmi + chl, family = binomial)); pool(fit) (dfcom 22)

suppressPackageStartupMessages(library(mice))

source(file.path("tests", "reference", "r", "_common.R"))

# ================================================================ 1. data ===
write_ref(data.frame(id = seq_len(nrow(nhanes)), nhanes, row.names = NULL),
          file.path(data_dir, "pooling_nhanes.csv"))
write_ref(data.frame(id = seq_len(nrow(nhanes2)), nhanes2, row.names = NULL),
          file.path(data_dir, "pooling_nhanes2.csv"))
keep <- complete.cases(boys[, c("age", "hgt", "wgt")])
boys_sub <- data.frame(id = which(keep), boys[keep, c("age", "hgt", "wgt", "hc")],
                       row.names = NULL)
stopifnot(nrow(boys_sub) == 727, sum(is.na(boys_sub$hc)) == 43)
write_ref(boys_sub, file.path(data_dir, "pooling_boys.csv"))

# ===================================================== 2. pool() by case ===
imp  <- mice(nhanes, m = 5, seed = 20261201, printFlag = FALSE)
imp2 <- mice(nhanes2, m = 20, seed = 20261202, printFlag = FALSE)
fits <- list(
  nhanes_lm     = list(fit = with(imp, lm(chl ~ age + bmi)), dfcom = NULL),
  nhanes_lm_inf = list(fit = with(imp, lm(chl ~ age + bmi)), dfcom = Inf),
  nhanes2_lm    = list(fit = with(imp2, lm(chl ~ age + bmi + hyp)), dfcom = NULL),
  nhanes2_glm   = list(fit = with(imp2, glm(hyp ~ bmi + chl, family = binomial)), dfcom = NULL)
)

per_imp <- list(); vcovs <- list(); pooled <- list()
for (case in names(fits)) {
  fit <- fits[[case]]$fit
  for (i in seq_along(fit$analyses)) {
    a <- fit$analyses[[i]]
    cf <- summary(a)$coefficients
    per_imp[[length(per_imp) + 1]] <- data.frame(
      case = case, imputation = i, term = rownames(cf),
      estimate = unname(cf[, 1]), std_error = unname(cf[, 2]))
    v <- vcov(a)
    vcovs[[length(vcovs) + 1]] <- data.frame(
      case = case, imputation = i,
      row = rep(rownames(v), times = ncol(v)), col = rep(colnames(v), each = nrow(v)),
      value = as.vector(v))
  }
  p <- pool(fit, dfcom = fits[[case]]$dfcom)
  s <- summary(p, type = "all", conf.int = TRUE, conf.level = 0.95)
  pooled[[case]] <- data.frame(
    case = case, term = as.character(s$term), m = s$m, estimate = s$estimate,
    std_error = s$std.error, statistic = s$statistic, df = s$df, p_value = s$p.value,
    conf_low = s[["2.5 %"]], conf_high = s[["97.5 %"]], riv = s$riv, lambda = s$lambda,
    fmi = s$fmi, ubar = s$ubar, b = s$b, t = s$t, dfcom = s$dfcom)
}
write_ref(do.call(rbind, per_imp), file.path(exp_dir, "pooling_per_imputation.csv"))
write_ref(do.call(rbind, vcovs), file.path(exp_dir, "pooling_vcov.csv"))
write_ref(do.call(rbind, pooled), file.path(exp_dir, "pooling_pooled.csv"))

# ============================================================ 3. pool.scalar ===
# bmi coefficient of nhanes_lm: Q = estimates, U = std.error^2 (n = 25, k = 3)
#   scalar_bmi_n25:  pool.scalar(Q, U, n = 25, k = 3)
#   scalar_bmi_inf:  pool.scalar(Q, U)                       (n = Inf)
#   scalar_zero_b:   pool.scalar(rep(2.5, 5), c(.1, .2, .3, .2, .1), n = 30, k = 2)
#   scalar_zero_b_inf: the same with n = Inf
ests <- do.call(rbind, per_imp)
bmi <- ests[ests$case == "nhanes_lm" & ests$term == "bmi", ]
scalar_cases <- list(
  scalar_bmi_n25    = list(Q = bmi$estimate, U = bmi$std_error^2, n = 25, k = 3),
  scalar_bmi_inf    = list(Q = bmi$estimate, U = bmi$std_error^2, n = Inf, k = 1),
  scalar_zero_b     = list(Q = rep(2.5, 5), U = c(.1, .2, .3, .2, .1), n = 30, k = 2),
  scalar_zero_b_inf = list(Q = rep(2.5, 5), U = c(.1, .2, .3, .2, .1), n = Inf, k = 1)
)
scalar_rows <- list()
for (case in names(scalar_cases)) {
  a <- scalar_cases[[case]]
  r <- pool.scalar(a$Q, a$U, n = a$n, k = a$k)
  scalar_rows[[case]] <- data.frame(case = case, m = r$m, qbar = r$qbar, ubar = r$ubar,
                                    b = r$b, t = r$t, df = r$df, r = r$r, fmi = r$fmi,
                                    dfcom = a$n - a$k)
}
write_ref(do.call(rbind, scalar_rows), file.path(exp_dir, "pooling_scalar.csv"))

# ============================================================== 4. p.adjust ===
#   fixed:   the vector below (ties, an NA, 0 and 1)
#   uniform: set.seed(20261203); round(runif(40)^3, 2)  (many ties); BH with n = 60 too
p_cases <- list(
  fixed = list(p = c(0.01, 0.04, 0.04, 0.03, NA, 0.5, 0.2, 0.001, 1, 0.04, 0, 0.04),
               n = 15),
  uniform = list(p = {set.seed(20261203); round(runif(40)^3, 2)}, n = 60),
  single = list(p = 0.03, n = 4),
  all_equal = list(p = rep(0.2, 6), n = 6)
)
p_rows <- list()
for (case in names(p_cases)) {
  p <- p_cases[[case]]$p
  p_rows[[case]] <- data.frame(case = case, index = seq_along(p), p = p,
                               bh = p.adjust(p, "BH"), holm = p.adjust(p, "holm"),
                               bh_n = p.adjust(p, "BH", n = p_cases[[case]]$n),
                               n_explicit = p_cases[[case]]$n)
}
write_ref(do.call(rbind, p_rows), file.path(exp_dir, "pooling_p_adjust.csv"))

# ======================================= 5. imputation draws (norm, pmm) ===
# meth: only hc is imputed; pred: hc from age, hgt, wgt.
#   mice(boys_sub[, -1], m = 2000, maxit = 1, method = meth, predictorMatrix = pred,
#        seed = 20261204 (norm) / 20261205 (pmm))
imp_rows <- list()
for (method in c("norm", "pmm")) {
  d <- boys_sub[, c("age", "hgt", "wgt", "hc")]
  meth <- make.method(d); meth[] <- ""; meth["hc"] <- method
  pred <- make.predictorMatrix(d); pred[, ] <- 0; pred["hc", c("age", "hgt", "wgt")] <- 1
  seed <- if (method == "norm") 20261204 else 20261205
  im <- mice(d, m = 2000, maxit = 1, method = meth, predictorMatrix = pred, seed = seed,
             printFlag = FALSE)
  draws <- as.matrix(im$imp$hc)
  imp_rows[[method]] <- data.frame(method = method,
                                   id = boys_sub$id[as.integer(rownames(draws))],
                                   n_draws = ncol(draws), mean = rowMeans(draws),
                                   var = apply(draws, 1, var))
}
write_ref(do.call(rbind, imp_rows), file.path(exp_dir, "pooling_imputed_rows.csv"))

writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_pooling.txt"))
