# Reference values for coacheval's survey-measurement layer.
#
# Run from the repository root:
#     Rscript tests/reference/r/measures.R
#
# Needs the Debian packages r-base-core, r-cran-psych, r-cran-psychtools
# (for the `bfi` data set) and r-cran-gparotation (loaded by psych::omega).
# No network access, no CRAN.  All paths are relative to the repository root.
#
# Number format in every CSV written here: numbers are written with
# the shortest of sprintf("%.15g"/"%.16g"/"%.17g") that reads back as the
# same IEEE double (so parsing the text gives R's value bit for bit),
# integers as integers, logicals as TRUE/FALSE, missing values as an empty
# field.  (write.csv itself only writes 15 significant digits, whatever
# options(digits) says, so it is not used for the numbers.)


suppressPackageStartupMessages({
  library(psych)
  library(psychTools)
})

source(file.path("tests", "reference", "r", "_common.R"))

# Every warning/message raised by the psych calls below is recorded here and
# written to expected/psych_warnings.csv (and also printed to stderr).
cond_log <- data.frame(section = character(), call = character(),
                       type = character(), text = character())
logged <- function(section, label, expr) {
  withCallingHandlers(expr,
    warning = function(w) {
      cond_log[nrow(cond_log) + 1, ] <<- list(section, label, "warning",
                                               trimws(conditionMessage(w)))
      cat("[", section, " / ", label, "] warning: ", conditionMessage(w), "\n",
          sep = "", file = stderr())
      invokeRestart("muffleWarning")
    },
    message = function(m) {
      txt <- trimws(conditionMessage(m))
      if (!grepl("^Loading required namespace", txt)) {
        cond_log[nrow(cond_log) + 1, ] <<- list(section, label, "message", txt)
      }
      cat("[", section, " / ", label, "] message: ", txt, "\n",
          sep = "", file = stderr())
      invokeRestart("muffleMessage")
    })
}

# ============================================================ 1. bfi data ===
# data("bfi", package = "psychTools")      # 2800 x 28, psychTools 2.2.9
# bfi <- data.frame(id = 1:2800, bfi)      # id = row number 1..2800
# Items A1..O5 are 1..6 with NA; gender 1/2, education 1..5 with NA, age.
bfi_raw <- psychTools::bfi
stopifnot(nrow(bfi_raw) == 2800)
bfi <- data.frame(id = seq_len(nrow(bfi_raw)), bfi_raw, row.names = NULL)
write_ref(bfi, file.path(data_dir, "bfi.csv"))

# Standard bfi keys (psychTools::bfi.keys):
scales <- list(
  agree         = list(items = paste0("A", 1:5), rev = c("A1")),
  conscientious = list(items = paste0("C", 1:5), rev = c("C4", "C5")),
  extraversion  = list(items = paste0("E", 1:5), rev = c("E1", "E2")),
  neuroticism   = list(items = paste0("N", 1:5), rev = character(0)),
  openness      = list(items = paste0("O", 1:5), rev = c("O2", "O5"))
)
all_items <- unlist(lapply(scales, `[[`, "items"), use.names = FALSE)

keyed_items <- function(sc) {            # reverse as 7 - x (scale 1..6)
  k <- bfi[, sc$items]
  for (v in sc$rev) k[[v]] <- 7 - k[[v]]
  k
}

# ====================================================== 2a. alpha scales ===
# for each scale s:
#   a <- psych::alpha(bfi[, s$items], keys = s$rev)   # use = "pairwise" (default)
#   raw_alpha = a$total$raw_alpha ; std_alpha = a$total$std.alpha
#   average_r = a$total$average_r ; ase = a$total$ase
#   n_obs = nrow(bfi) = 2800  (psych uses nsub = number of rows, incl. rows with NA)
#   Feldt:    a$feldt  ==  psych::alpha.ci(raw_alpha, n.obs = 2800, n.var = 5)
#             low  = 1 - (1 - raw_alpha) * qf(0.975, 2800 - 1, (2800 - 1) * (5 - 1))
#             high = 1 - (1 - raw_alpha) * qf(0.025, 2800 - 1, (2800 - 1) * (5 - 1))
#   Duhachek (as print.psych prints it): raw_alpha -/+ 1.96 * a$total$ase,
#             ase = sqrt(Q / 2800), Q from the keyed pairwise covariance matrix.
# 2b. items:
#   a$item.stats: n, raw.r, std.r, r.cor, r.drop, mean, sd  (reverse-keyed items
#   are flipped as 7 - x before mean/sd, so their means are of the reversed item)
#   a$alpha.drop: raw_alpha, std.alpha (alpha if the item is dropped)
alpha_rows <- list()
item_rows <- list()
for (s in names(scales)) {
  sc <- scales[[s]]
  k <- length(sc$items)
  a <- logged("alpha", s,
              psych::alpha(bfi[, sc$items],
                           keys = if (length(sc$rev)) sc$rev else NULL))
  n_obs <- nrow(bfi)
  ci <- psych::alpha.ci(a$total$raw_alpha, n.obs = n_obs, n.var = k)
  stopifnot(isTRUE(all.equal(unname(unlist(a$feldt$lower.ci)), unname(ci$lower.ci))),
            isTRUE(all.equal(unname(unlist(a$feldt$upper.ci)), unname(ci$upper.ci))))
  alpha_rows[[s]] <- data.frame(
    scale = s,
    n_items = k,
    raw_alpha = a$total$raw_alpha,
    std_alpha = a$total$std.alpha,
    average_r = a$total$average_r,
    median_r = a$total$median_r,
    g6_smc = a$total[["G6(smc)"]],
    signal_noise = a$total[["S/N"]],
    ase = a$total$ase,
    total_mean = a$total$mean,
    total_sd = a$total$sd,
    n_obs = n_obs,
    alpha_ci_low = unname(ci$lower.ci),
    alpha_ci_high = unname(ci$upper.ci),
    duhachek_low = a$total$raw_alpha - 1.96 * a$total$ase,
    duhachek_high = a$total$raw_alpha + 1.96 * a$total$ase
  )
  st <- a$item.stats
  ad <- a$alpha.drop
  item_rows[[s]] <- data.frame(
    scale = s,
    item = sc$items,
    reversed = sc$items %in% sc$rev,
    raw_r = st$raw.r,
    std_r = st$std.r,
    r_cor = st$r.cor,
    r_drop = st$r.drop,
    raw_alpha_if_dropped = ad$raw_alpha,
    std_alpha_if_dropped = ad$std.alpha,
    average_r_if_dropped = ad$average_r,
    mean = st$mean,
    sd = st$sd,
    n = as.integer(st$n)
  )
}
alpha_scales <- do.call(rbind, alpha_rows)
alpha_items <- do.call(rbind, item_rows)
write_ref(alpha_scales, file.path(exp_dir, "alpha_scales.csv"))
write_ref(alpha_items, file.path(exp_dir, "alpha_items.csv"))

# ============================================================= 2c. omega ===
# for each scale s:
#   keyed <- bfi[, s$items]; keyed[s$rev] <- 7 - keyed[s$rev]
#   om <- psych::omega(keyed, nfactors = 1, fm = "minres", plot = FALSE)
#     omega_total = om$omega.tot  (= 1 - sum(u2) / sum(R), R = cor(keyed, use = "pairwise"))
#     omega_h_psych = om$omega_h  (psych warns it is not meaningful with 1 factor)
#   f <- psych::fa(keyed, nfactors = 1, fm = "minres")   # use = "pairwise" (default)
#     L = f$loadings[, 1];  R = cor(keyed, use = "pairwise")
#     omega_total_fa      = sum(L)^2 / sum(R)
#     omega_total_fa_uniq = 1 - sum(f$uniquenesses) / sum(R)
omega_rows <- list()
load_rows <- list()
for (s in names(scales)) {
  sc <- scales[[s]]
  keyed <- keyed_items(sc)
  om <- logged("omega", s,
               psych::omega(keyed, nfactors = 1, fm = "minres", plot = FALSE))
  f <- logged("fa", s, psych::fa(keyed, nfactors = 1, fm = "minres"))
  L <- f$loadings[, 1]
  if (sum(L) < 0) L <- -L                # sign of a single factor is arbitrary
  R <- cor(keyed, use = "pairwise")
  omega_rows[[s]] <- data.frame(
    scale = s,
    omega_total = om$omega.tot,
    omega_h_psych = om$omega_h,
    alpha_psych_omega = om$alpha,
    omega_total_fa = sum(L)^2 / sum(R),
    omega_total_fa_uniq = 1 - sum(f$uniquenesses) / sum(R),
    sum_loadings = sum(L),
    sum_R = sum(R)
  )
  load_rows[[s]] <- data.frame(
    scale = s,
    item = names(L),
    reversed = names(L) %in% sc$rev,
    loading = unname(L),
    communality = unname(f$communality[names(L)]),
    uniqueness = unname(f$uniquenesses[names(L)])
  )
}
write_ref(do.call(rbind, omega_rows), file.path(exp_dir, "omega_scales.csv"))
write_ref(do.call(rbind, load_rows), file.path(exp_dir, "omega_loadings.csv"))

# ============================================================ 2d. scores ===
# keys.list <- list(agree = c("-A1","A2","A3","A4","A5"),
#                   conscientious = c("C1","C2","C3","-C4","-C5"),
#                   extraversion = c("-E1","-E2","E3","E4","E5"),
#                   neuroticism = c("N1","N2","N3","N4","N5"),
#                   openness = c("O1","-O2","O3","O4","-O5"))
# sc <- psych::scoreItems(keys.list, bfi[, all_items], impute = "none",
#                         totals = FALSE, min = 1, max = 6)$scores
#   = per person, mean of the answered items after reversing (7 - x);
#     NA when no item of the scale is answered.
# scores_min_items: same, but NA when fewer than 3 of the 5 items are answered
#   (n_answered = rowSums(!is.na(bfi[, s$items]))).
keys.list <- lapply(scales, function(sc)
  ifelse(sc$items %in% sc$rev, paste0("-", sc$items), sc$items))
si <- logged("scoreItems", "all",
             psych::scoreItems(keys.list, bfi[, all_items], impute = "none",
                               totals = FALSE, min = 1, max = 6))
sc_mat <- si$scores
stopifnot(identical(colnames(sc_mat), names(scales)))
scores <- data.frame(id = bfi$id, sc_mat, row.names = NULL)
# cross-check against a plain base-R computation
for (s in names(scales)) {
  manual <- rowMeans(keyed_items(scales[[s]]), na.rm = TRUE)
  manual[is.nan(manual)] <- NA
  stopifnot(isTRUE(all.equal(unname(scores[[s]]), unname(manual))))
}
write_ref(scores, file.path(exp_dir, "scores.csv"))

scores_min <- scores
for (s in names(scales)) {
  n_answered <- rowSums(!is.na(bfi[, scales[[s]]$items]))
  scores_min[[s]][n_answered < 3] <- NA
}
write_ref(scores_min, file.path(exp_dir, "scores_min_items.csv"))

# ========================================================== 3. Table 1 ===
# Input generated here with set.seed(20261126); 400 rows, group 1 (n = 150,
# participants) and 0 (n = 250, comparison).  Exactly 12 (3%) missing values
# in age and in role (4 in group 1, 8 in group 0, each).  Values are rounded (age, score to 1 decimal, tenure to
# 2 decimals) before any statistic is computed.
#
# tableone is NOT packaged in Debian (apt-cache policy r-cran-tableone: no
# candidate), so the reference is the standard formula in base R:
#   continuous (available cases):
#     smd = (m1 - m0) / sqrt((s1^2 + s0^2) / 2)   (s = sd(), n - 1 denominator)
#   categorical (Yang & Dalton 2012; levels observed in the data, NA excluded):
#     p1, p0 = proportions of levels 2..K (first level dropped);
#     S = (S1 + S0) / 2,  Sg[k,k] = pg_k (1 - pg_k),  Sg[k,l] = -pg_k pg_l
#     smd = sqrt( t(p1 - p0) %*% solve(S) %*% (p1 - p0) )      (always >= 0)
#   female is given twice: method "categorical" (a 2-level factor; Yang-Dalton
#   reduces to (p1 - p0)/sqrt((p1(1-p1) + p0(1-p0))/2)) and method
#   "continuous" (0/1 numeric with sd()); tableone uses the latter unless
#   female is listed in factorVars.
#   abs_smd = |smd| is what tableone's ExtractSmd() would print.
set.seed(20261126)
n1 <- 150; n0 <- 250
group <- c(rep(1L, n1), rep(0L, n0))
age <- round(c(rnorm(n1, 41, 8), rnorm(n0, 44, 9)), 1)
tenure_years <- round(c(rgamma(n1, shape = 1.6, scale = 4.0),
                        rgamma(n0, shape = 1.8, scale = 4.5)), 2)
score <- round(c(rnorm(n1, 52, 10), rnorm(n0, 50, 10)), 1)
role_levels <- c("charge_nurse", "assistant_nurse_manager", "nurse_manager", "director")
role <- c(sample(role_levels, n1, replace = TRUE, prob = c(0.40, 0.30, 0.22, 0.08)),
          sample(role_levels, n0, replace = TRUE, prob = c(0.30, 0.25, 0.30, 0.15)))
female <- c(rbinom(n1, 1, 0.82), rbinom(n0, 1, 0.76))
# missing: 4 of the 150 participants and 8 of the 250 comparisons (12 = 3%),
# drawn separately for age and for role
age[c(sample.int(n1, 4), n1 + sample.int(n0, 8))] <- NA
role[c(sample.int(n1, 4), n1 + sample.int(n0, 8))] <- NA
table1 <- data.frame(id = seq_len(n1 + n0), group = group, age = age,
                     tenure_years = tenure_years, score = score,
                     role = factor(role, levels = role_levels),
                     female = as.integer(female))
write_ref(table1, file.path(data_dir, "table1.csv"))

smd_cont <- function(x, g) {
  x1 <- x[g == 1 & !is.na(x)]; x0 <- x[g == 0 & !is.na(x)]
  (mean(x1) - mean(x0)) / sqrt((var(x1) + var(x0)) / 2)
}
smd_cat <- function(x, g) {
  x <- droplevels(factor(x))
  ok <- !is.na(x)
  p1 <- prop.table(table(x[ok & g == 1]))
  p0 <- prop.table(table(x[ok & g == 0]))
  covm <- function(p) { m <- -outer(p, p); diag(m) <- p * (1 - p); m }
  d <- (p1 - p0)[-1]
  S <- ((covm(p1) + covm(p0)) / 2)[-1, -1, drop = FALSE]
  sqrt(drop(t(d) %*% solve(S) %*% d))
}
cont_vars <- c("age", "tenure_years", "score")
smd_rows <- list()
for (v in cont_vars) {
  s <- smd_cont(table1[[v]], table1$group)
  smd_rows[[v]] <- data.frame(variable = v, method = "continuous", smd = s, abs_smd = abs(s))
}
s <- smd_cat(table1$role, table1$group)
smd_rows$role <- data.frame(variable = "role", method = "categorical", smd = s, abs_smd = s)
s <- smd_cat(factor(table1$female, levels = c(0, 1)), table1$group)
smd_rows$female_cat <- data.frame(variable = "female", method = "categorical", smd = s, abs_smd = s)
s <- smd_cont(table1$female, table1$group)
smd_rows$female_cont <- data.frame(variable = "female", method = "continuous", smd = s, abs_smd = abs(s))
write_ref(do.call(rbind, smd_rows), file.path(exp_dir, "table1_smd.csv"))

# table1_summary (long): continuous: n = non-missing, mean, sd (n - 1);
# categorical (role, female): n and percent = 100 * n / non-missing per level,
# plus a level "(missing)" row with the NA count (percent empty).
# Also a variable "n" row per group with the group size.
sum_rows <- list()
for (g in c(1L, 0L)) {
  sum_rows[[length(sum_rows) + 1]] <- data.frame(
    variable = "n", level = NA_character_, group = g, n = sum(table1$group == g),
    mean = NA_real_, sd = NA_real_, percent = NA_real_)
}
for (v in cont_vars) for (g in c(1L, 0L)) {
  x <- table1[[v]][table1$group == g]
  sum_rows[[length(sum_rows) + 1]] <- data.frame(
    variable = v, level = NA_character_, group = g, n = sum(!is.na(x)),
    mean = mean(x, na.rm = TRUE), sd = sd(x, na.rm = TRUE), percent = NA_real_)
}
for (v in c("role", "female")) for (g in c(1L, 0L)) {
  x <- table1[[v]][table1$group == g]
  lv <- if (v == "role") role_levels else c("0", "1")
  x <- factor(as.character(x), levels = lv)
  tab <- table(x)                       # excludes NA
  for (l in lv) {
    sum_rows[[length(sum_rows) + 1]] <- data.frame(
      variable = v, level = l, group = g, n = as.integer(tab[[l]]),
      mean = NA_real_, sd = NA_real_, percent = 100 * tab[[l]] / sum(tab))
  }
  sum_rows[[length(sum_rows) + 1]] <- data.frame(
    variable = v, level = "(missing)", group = g, n = sum(is.na(x)),
    mean = NA_real_, sd = NA_real_, percent = NA_real_)
}
table1_summary <- do.call(rbind, sum_rows)
table1_summary$group <- as.integer(table1_summary$group)
table1_summary$n <- as.integer(table1_summary$n)
write_ref(table1_summary, file.path(exp_dir, "table1_summary.csv"))

# ========================================================= 4. pre/post ===
# Input generated with set.seed(20261127): 60 people, pre ~ N(50, 10),
# post = 50 + 3 + 0.7 (pre - 50) + N(0, 10 sqrt(1 - 0.7^2))  (true change
# 0.3 SD, corr ~ 0.7), both rounded to 1 decimal, 3 posts set to NA.
# cc <- prepost[complete.cases(prepost), ]          # 57 complete pairs
# tt <- t.test(cc$post, cc$pre, paired = TRUE)       # differences post - pre
#   n_pairs = nrow(cc); mean_change = mean(cc$post - cc$pre)
#   sd_change = sd(cc$post - cc$pre); se = sd_change / sqrt(n_pairs)
#   t = tt$statistic; df = tt$parameter; ci_low, ci_high = tt$conf.int (95%)
#   d_z = mean_change / sd_change
#   ncp_low : uniroot(function(ncp) pt(t, df, ncp) - 0.975, ...)$root
#   ncp_high: uniroot(function(ncp) pt(t, df, ncp) - 0.025, ...)$root
#     (interval t -/+ 5, extendInt = "yes", tol = 1e-12)
#   d_z_ci_low = ncp_low / sqrt(n_pairs); d_z_ci_high = ncp_high / sqrt(n_pairs)
#   J = exp(lgamma(df/2) - log(sqrt(df/2)) - lgamma((df-1)/2)); g_z = d_z * J
#   d_av = mean_change / ((sd(cc$pre) + sd(cc$post)) / 2)
set.seed(20261127)
n_pp <- 60
pre <- rnorm(n_pp, 50, 10)
post <- 50 + 3 + 0.7 * (pre - 50) + rnorm(n_pp, 0, 10 * sqrt(1 - 0.7^2))
pre <- round(pre, 1); post <- round(post, 1)
post[sample.int(n_pp, 3)] <- NA
prepost <- data.frame(id = seq_len(n_pp), pre = pre, post = post)
write_ref(prepost, file.path(data_dir, "prepost.csv"))

cc <- prepost[complete.cases(prepost), ]
diffs <- cc$post - cc$pre
tt <- t.test(cc$post, cc$pre, paired = TRUE)
n_pairs <- nrow(cc)
t_obs <- unname(tt$statistic)
df_pp <- unname(tt$parameter)
mean_change <- mean(diffs)
sd_change <- sd(diffs)
ncp_root <- function(p) uniroot(function(ncp) pt(t_obs, df_pp, ncp) - p,
                                lower = t_obs - 5, upper = t_obs + 5,
                                extendInt = "yes", tol = 1e-12,
                                maxiter = 10000)$root
ncp_low <- ncp_root(0.975)
ncp_high <- ncp_root(0.025)
J <- exp(lgamma(df_pp / 2) - log(sqrt(df_pp / 2)) - lgamma((df_pp - 1) / 2))
d_z <- mean_change / sd_change
sd_pre <- sd(cc$pre); sd_post <- sd(cc$post)
prepost_out <- data.frame(
  n_pairs = n_pairs,
  mean_pre = mean(cc$pre), mean_post = mean(cc$post),
  sd_pre = sd_pre, sd_post = sd_post, r_pre_post = cor(cc$pre, cc$post),
  mean_change = mean_change,
  sd_change = sd_change,
  se = sd_change / sqrt(n_pairs),
  t = t_obs,
  df = df_pp,
  p_value = tt$p.value,
  ci_low = tt$conf.int[1],
  ci_high = tt$conf.int[2],
  d_z = d_z,
  ncp_low = ncp_low,
  ncp_high = ncp_high,
  d_z_ci_low = ncp_low / sqrt(n_pairs),
  d_z_ci_high = ncp_high / sqrt(n_pairs),
  J = J,
  g_z = d_z * J,
  d_av = mean_change / ((sd_pre + sd_post) / 2)
)
stopifnot(isTRUE(all.equal(prepost_out$mean_change, unname(tt$estimate))),
          isTRUE(all.equal(prepost_out$se, unname(tt$stderr))))
write_ref(prepost_out, file.path(exp_dir, "prepost.csv"))

# ================================================ warnings + sessionInfo ===
write_ref(cond_log, file.path(exp_dir, "psych_warnings.csv"))
writeLines(capture.output(sessionInfo()),
           file.path(exp_dir, "sessionInfo_measures.txt"))
message("done: wrote ", length(list.files(exp_dir)), " files to ", exp_dir)
