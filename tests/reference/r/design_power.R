# Reference values for coacheval.design.power: t-test power (pwr), cluster design effects and
# the GLS variance of the treatment effect in stepped-wedge / multiple-cohort rollouts.
#
# Run from the repository root:
#     Rscript tests/reference/r/design_power.R
#
# Needs r-base-core and the CRAN package pwr (1.3-0).  No network access, no random numbers:
# the script is deterministic (two runs give byte-identical files).
#
# There are no data in a power calculation: the inputs are design parameters, written out
# below; the clusters x periods designs are written to data/design_power_designs.csv so that
# the Python tests read exactly the designs R used.
#
# Outputs (tests/reference/expected/):
#   design_power_t.csv        pwr::pwr.t.test and pwr::pwr.t2n.test over a grid: fn ("t" or
#                             "t2n"), type, alternative, solved ("power", "n", "n2", "d"),
#                             n, n1, n2, d, alpha, power as pwr returns them, and
#                             value_tight: the solved quantity again from uniroot(tol = 1e-14)
#                             on pwr's own power function (pwr's uniroot uses the default
#                             tol = .Machine$double.eps^0.25, about 1.2e-4).
#   design_power_cluster.csv  parallel cluster designs: m, icc, cv, baseline_r, k (clusters per
#                             arm), d, df ("clusters": t on 2k - 2 df; "normal"), design_effect
#                             = 1 + ((cv^2 + 1) m - 1) icc (Donner & Klar; Eldridge et al.
#                             2006), se = sqrt(2 DE (1 - r^2) / (k m)), power (noncentral t via
#                             pt(ncp =), or pnorm), k_solved: clusters per arm for 80% power
#                             (uniroot, tol 1e-14).
#   design_power_baseline_r.csv  m, icc, cac, iac, r = (m icc cac + (1 - icc) iac) /
#                             (1 + (m - 1) icc) (Teerenstra et al. 2012).
#   design_power_gls.csv      one row per design case: icc, cac, iac, rr, total_variance,
#                             effect, alpha, variance (GLS, explicit matrices), se,
#                             power_normal, closed_form (Hussey & Hughes 2007 closed-form
#                             variance where it applies: cross-sectional, cac = 1, equal sizes,
#                             no missing cells; else empty).
#   sessionInfo_design_power.txt
#
# GLS by explicit matrix algebra, independently of the Python code (which groups clusters by
# pattern and solves per pattern): the full design matrix X (one row per observed
# cluster-period: period indicators, then the treatment) and the full block-diagonal covariance
# V of the cluster-period means are built, and Var(theta) = solve(t(X) %*% solve(V) %*%
# X)[theta, theta].  The covariance of cluster i's means at periods j, l (total variance s2,
# response rate q, m_ij leaders, n_ij = q m_ij respondents):
#   tau2 = s2 icc cac, gamma2 = s2 icc (1 - cac), zeta2 = s2 (1 - icc) iac,
#   sig2 = s2 (1 - icc) (1 - iac);
#   V[j, j] = tau2 + gamma2 + (zeta2 + sig2) / n_ij;
#   V[j, l] = tau2 + zeta2 * q^2 min(m_ij, m_il) / (n_ij n_il)   (j != l);
# with cac = 1 and iac = 0 this is Hussey & Hughes' (2007) model (swCRTdesign::swPwr's
# covariance), with iac > 0 Hooper et al.'s (2016) closed cohort.  Cells with a missing design
# entry or 0 leaders are dropped.

suppressPackageStartupMessages(library(pwr))

source(file.path("tests", "reference", "r", "_common.R"))

# ============================================================ 1. t tests (pwr) ===
tight <- function(f, lo, hi) uniroot(f, c(lo, hi), tol = 1e-14, maxiter = 10000)$root

# pwr's power functions, written as in pwr 1.3-0's p.body
pw_t <- function(n, d, alpha, type, alt) {
  ts <- if (type == "two.sample") 2 else 1
  nu <- (n - 1) * ts
  ncp <- sqrt(n / ts) * d
  switch(alt,
         two.sided = {
           qu <- qt(alpha / 2, nu, lower = FALSE)
           pt(qu, nu, ncp = ncp, lower = FALSE) + pt(-qu, nu, ncp = ncp, lower = TRUE)
         },
         greater = pt(qt(alpha, nu, lower = FALSE), nu, ncp = ncp, lower = FALSE),
         less = pt(qt(alpha, nu, lower = TRUE), nu, ncp = ncp, lower = TRUE))
}
pw_t2n <- function(n1, n2, d, alpha, alt) {
  nu <- n1 + n2 - 2
  ncp <- d / sqrt(1 / n1 + 1 / n2)
  switch(alt,
         two.sided = {
           qu <- qt(alpha / 2, nu, lower = FALSE)
           pt(qu, nu, ncp = ncp, lower = FALSE) + pt(-qu, nu, ncp = ncp, lower = TRUE)
         },
         greater = pt(qt(alpha, nu, lower = FALSE), nu, ncp = ncp, lower = FALSE),
         less = pt(qt(alpha, nu, lower = TRUE), nu, ncp = ncp, lower = TRUE))
}
d_interval <- function(alt) switch(alt, two.sided = c(1e-7, 10), less = c(-10, 5),
                                   greater = c(-5, 10))

rows <- list()
add <- function(...) rows[[length(rows) + 1]] <<- data.frame(..., stringsAsFactors = FALSE)

for (type in c("two.sample", "one.sample", "paired")) {
  for (alt in c("two.sided", "greater", "less")) {
    sgn <- if (alt == "less") -1 else 1
    for (alpha in c(0.05, 0.01)) {
      # power
      for (n in c(2.5, 5, 20, 64, 200, 1000)) for (d in c(0.1, 0.2, 0.31, 0.5, 0.8, 1.2)) {
        r <- pwr.t.test(n = n, d = sgn * d, sig.level = alpha, type = type, alternative = alt)
        add(fn = "t", type = type, alternative = alt, solved = "power", n = n, n1 = NA,
            n2 = NA, d = sgn * d, alpha = alpha, power = r$power, value_tight = r$power)
      }
      # n
      for (d in c(0.2, 0.5, 0.8)) for (pw in c(0.8, 0.9)) {
        r <- pwr.t.test(d = sgn * d, power = pw, sig.level = alpha, type = type,
                        alternative = alt)
        nt <- tight(function(n) pw_t(n, sgn * d, alpha, type, alt) - pw, 2 + 1e-10, 1e9)
        add(fn = "t", type = type, alternative = alt, solved = "n", n = r$n, n1 = NA, n2 = NA,
            d = sgn * d, alpha = alpha, power = pw, value_tight = nt)
      }
      # d
      for (n in c(10, 50, 200)) for (pw in c(0.8, 0.9)) {
        r <- pwr.t.test(n = n, power = pw, sig.level = alpha, type = type, alternative = alt)
        iv <- d_interval(alt)
        dt <- tight(function(d) pw_t(n, d, alpha, type, alt) - pw, iv[1], iv[2])
        add(fn = "t", type = type, alternative = alt, solved = "d", n = n, n1 = NA, n2 = NA,
            d = r$d, alpha = alpha, power = pw, value_tight = dt)
      }
    }
  }
}
for (alt in c("two.sided", "greater", "less")) {
  sgn <- if (alt == "less") -1 else 1
  for (alpha in c(0.05, 0.01)) {
    for (nn in list(c(10, 20), c(50, 30), c(96, 400), c(100, 1000))) {
      for (d in c(0.15, 0.3, 0.6)) {
        r <- pwr.t2n.test(n1 = nn[1], n2 = nn[2], d = sgn * d, sig.level = alpha,
                          alternative = alt)
        add(fn = "t2n", type = "two.sample", alternative = alt, solved = "power", n = NA,
            n1 = nn[1], n2 = nn[2], d = sgn * d, alpha = alpha, power = r$power,
            value_tight = r$power)
      }
      for (pw in c(0.8, 0.9)) {
        r <- pwr.t2n.test(n1 = nn[1], n2 = nn[2], power = pw, sig.level = alpha,
                          alternative = alt)
        iv <- d_interval(alt)
        dt <- tight(function(d) pw_t2n(nn[1], nn[2], d, alpha, alt) - pw, iv[1], iv[2])
        add(fn = "t2n", type = "two.sample", alternative = alt, solved = "d", n = NA,
            n1 = nn[1], n2 = nn[2], d = r$d, alpha = alpha, power = pw, value_tight = dt)
      }
    }
    # pairs where 80% power is reachable (n2 -> Inf gives ncp d sqrt(n1))
    for (nd in list(c(96, 0.4), c(30, 0.7), c(50, 0.6), c(200, 0.3))) {
      n1 <- nd[1]; d <- nd[2]
      r <- pwr.t2n.test(n1 = n1, d = sgn * d, power = 0.8, sig.level = alpha,
                        alternative = alt)
      n2t <- tight(function(n2) pw_t2n(n1, n2, sgn * d, alpha, alt) - 0.8, 2 + 1e-10, 1e9)
      add(fn = "t2n", type = "two.sample", alternative = alt, solved = "n2", n = NA, n1 = n1,
          n2 = r$n2, d = sgn * d, alpha = alpha, power = 0.8, value_tight = n2t)
    }
  }
}
t_tab <- do.call(rbind, rows)
write_ref(t_tab, file.path(exp_dir, "design_power_t.csv"))

# ===================================================== 2. parallel cluster designs ===
cl_power <- function(k, m, icc, cv, r, d, df, alpha = 0.05) {
  de <- 1 + ((cv^2 + 1) * m - 1) * icc
  se <- sqrt(2 * de * (1 - r^2) / (k * m))
  ncp <- d / se
  if (df == "normal") {
    z <- qnorm(1 - alpha / 2)
    return(pnorm(ncp - z) + pnorm(-ncp - z))
  }
  nu <- 2 * k - 2
  qu <- qt(alpha / 2, nu, lower = FALSE)
  pt(qu, nu, ncp = ncp, lower = FALSE) + pt(-qu, nu, ncp = ncp, lower = TRUE)
}
rows <- list()
for (m in c(1, 4, 12, 30)) for (icc in c(0, 0.03, 0.05, 0.2, 1)) for (cv in c(0, 0.4)) {
  for (r in c(0, 0.5)) for (k in c(4, 10, 30)) for (df in c("clusters", "normal")) {
    d <- 0.3
    de <- 1 + ((cv^2 + 1) * m - 1) * icc
    lo <- if (df == "clusters") 1 + 1e-9 else 1e-9
    ks <- tight(function(kk) cl_power(kk, m, icc, cv, r, d, df) - 0.8, lo, 1e9)
    add(m = m, icc = icc, cv = cv, baseline_r = r, k = k, d = d, df = df, design_effect = de,
        se = sqrt(2 * de * (1 - r^2) / (k * m)), power = cl_power(k, m, icc, cv, r, d, df),
        k_solved = ks)
  }
}
write_ref(do.call(rbind, rows), file.path(exp_dir, "design_power_cluster.csv"))

rows <- list()
for (m in c(1, 5, 10, 40)) for (icc in c(0, 0.05, 0.2)) for (cac in c(1, 0.6)) {
  for (iac in c(0, 0.5)) {
    add(m = m, icc = icc, cac = cac, iac = iac,
        r = (m * icc * cac + (1 - icc) * iac) / (1 + (m - 1) * icc))
  }
}
write_ref(do.call(rbind, rows), file.path(exp_dir, "design_power_baseline_r.csv"))

# ================================================= 3. GLS variance of rollouts ===
# a stepped wedge: `sizes` clusters per sequence, sequence s (1-based) exposed from period s + 1
sw <- function(sizes, periods = length(sizes) + 1, starts = seq_along(sizes) + 1, control = 0) {
  x <- do.call(rbind, lapply(seq_along(sizes), function(s)
    matrix(as.numeric(seq_len(periods) >= starts[s]), sizes[s], periods, byrow = TRUE)))
  rbind(x, matrix(0, control, periods))
}

gls_var <- function(x, m, icc, cac, iac, rr, s2) {
  n_cl <- nrow(x); n_per <- ncol(x)
  tau2 <- s2 * icc * cac; gamma2 <- s2 * icc * (1 - cac)
  zeta2 <- s2 * (1 - icc) * iac; sig2 <- s2 * (1 - icc) * (1 - iac)
  obs <- !is.na(x) & m > 0
  keep_per <- colSums(obs) > 0
  X <- NULL; blocks <- list()
  for (i in seq_len(n_cl)) {
    j <- which(obs[i, ] & keep_per)
    if (!length(j)) next
    Xi <- cbind(diag(n_per)[j, keep_per, drop = FALSE], x[i, j])
    X <- rbind(X, Xi)
    mi <- m[i, j]; ni <- rr * mi
    Vi <- matrix(tau2, length(j), length(j)) +
      zeta2 * rr^2 * outer(mi, mi, pmin) / outer(ni, ni)
    diag(Vi) <- tau2 + gamma2 + (zeta2 + sig2) / ni
    blocks[[length(blocks) + 1]] <- Vi
  }
  V <- matrix(0, nrow(X), nrow(X)); at <- 0
  for (b in blocks) {
    idx <- at + seq_len(nrow(b)); V[idx, idx] <- b; at <- at + nrow(b)
  }
  cov_beta <- solve(t(X) %*% solve(V) %*% X)
  cov_beta[ncol(X), ncol(X)]
}

hh_closed <- function(x, sigma2, tau2) {
  I <- nrow(x); T <- ncol(x)
  U <- sum(x); W <- sum(colSums(x)^2); V <- sum(rowSums(x)^2)
  I * sigma2 * (sigma2 + T * tau2) / ((I * U - W) * sigma2 + (U^2 + I * T * U - T * W - I * V) * tau2)
}

cases <- list()
design_rows <- list()
add_case <- function(name, x, m, icc, cac = 1, iac = 0, rr = 1, s2 = 1, effect = 0.3,
                     alpha = 0.05) {
  if (length(m) == 1) m <- matrix(m, nrow(x), ncol(x))
  if (is.null(dim(m))) m <- matrix(m, nrow(x), ncol(x))
  v <- gls_var(x, m, icc, cac, iac, rr, s2)
  z <- qnorm(1 - alpha / 2)
  se <- sqrt(v)
  closed <- NA_real_
  if (cac == 1 && iac == 0 && !anyNA(x) && all(m == m[1]) && rr == 1)
    closed <- hh_closed(x, s2 * (1 - icc) / m[1], s2 * icc)
  cases[[length(cases) + 1]] <<- data.frame(
    design = name, icc = icc, cac = cac, iac = iac, rr = rr, total_variance = s2,
    effect = effect, alpha = alpha, variance = v, se = se,
    power_normal = pnorm(abs(effect) / se - z) + pnorm(-abs(effect) / se - z),
    closed_form = closed, stringsAsFactors = FALSE)
  design_rows[[length(design_rows) + 1]] <<- data.frame(
    design = name, cluster = rep(seq_len(nrow(x)), times = ncol(x)) - 1L,
    period = rep(seq_len(ncol(x)), each = nrow(x)) - 1L,
    x = as.vector(x), m = as.vector(m), stringsAsFactors = FALSE)
}

# Hussey & Hughes (2007) / swCRTdesign README: swPwr(swDsn(c(6,6,6,6)), distn = "binomial",
# n = 120, mu0 = 0.05, mu1 = 0.035, tau = 0.01): sigma^2 = mubar (1 - mubar), mubar = 0.0425,
# so total variance = sigma^2 + tau^2 and icc = tau^2 / total.
mub <- (0.05 + 0.035) / 2
tot <- mub * (1 - mub) + 0.01^2
add_case("hh2007", sw(c(6, 6, 6, 6)), 120, icc = 0.01^2 / tot, s2 = tot, effect = 0.015)
add_case("sw3x4_cross", sw(c(4, 4, 4)), 10, icc = 0.05, rr = 0.6)
add_case("sw3x4_cohort", sw(c(4, 4, 4)), 10, icc = 0.05, cac = 0.8, iac = 0.5, rr = 0.6)
add_case("hybrid_unequal", sw(c(3, 3), control = 4), c(4, 6, 8, 10, 12, 5, 7, 9, 11, 13),
         icc = 0.1, cac = 0.9, iac = 0.3, rr = 0.7)
inc <- sw(c(2, 2, 2, 2))
for (i in seq_len(nrow(inc))) {
  first <- which(inc[i, ] == 1)[1]
  inc[i, seq_len(ncol(inc)) > first + 1] <- NA   # observed up to two periods after the start
}
add_case("incomplete", inc, 20, icc = 0.05, cac = 0.7)
add_case("parallel_baseline", sw(c(10), periods = 2, control = 10), 8, icc = 0.05, iac = 0.5)
add_case("parallel_post", sw(c(10), periods = 1, starts = 1, control = 10), 8, icc = 0.05)
add_case("one_per_step", sw(c(1, 1, 1, 1)), 15, icc = 0.1)
add_case("icc0", sw(c(2, 2, 2)), 10, icc = 0)
add_case("extended", sw(c(3, 3, 3), periods = 7, starts = c(2, 4, 6)), 6, icc = 0.05,
         cac = 0.5, iac = 0.4, rr = 0.8)
msz <- matrix(c(12, 10, 0, 9, 8, 14, 15, 11, 7, 6, 9, 10, 11, 12, 13, 5, 6, 0, 8, 9,
                10, 10, 10, 10, 10, 20, 18, 16, 14, 12), nrow = 6, byrow = TRUE)
add_case("matrix_sizes", sw(c(2, 2, 2), periods = 5, starts = c(2, 3, 4)), msz, icc = 0.08,
         cac = 0.75)
add_case("large_icc", sw(c(5, 5, 5, 5)), 25, icc = 0.3, cac = 0.9, iac = 0.2, rr = 0.5)

write_ref(do.call(rbind, design_rows), file.path(data_dir, "design_power_designs.csv"))
write_ref(do.call(rbind, cases), file.path(exp_dir, "design_power_gls.csv"))

writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_design_power.txt"))
