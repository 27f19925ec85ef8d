# Reference values for the exact d_z interval (coacheval.measures.prepost.dz_interval) where the
# observed t is negative or large: the noncentrality parameters that put t at the 97.5th and
# 2.5th percentiles of the noncentral t, found with base R's pt (AS 243) and uniroot.
#
# Run from the repository root:
#     Rscript tests/reference/r/dz_interval.R
#
# Only base R (stats). Each case is a (t, n) pair; df = n - 1. The first is the case that broke
# scipy's root bracket (wellbeing, participants W1 -> W8 of the seed-7, 400-leader simulated
# system, single_arm plan: t = -3.034512944698196, n = 48). The others add large |t| of both
# signs and small n. R documents pt with a noncentrality parameter as accurate only for
# |ncp| <= 37.62, so every case here keeps both roots inside that range (checked below), and
# any warning from pt stops the script. Input t values are written exactly (%.17g) and read
# back bit for bit by the Python test.

source(file.path("tests", "reference", "r", "_common.R"))

cases <- data.frame(
  t = c(-3.034512944698196, 3.034512944698196, -12, 12, -25, -0.5, -8, -2.5, -30, -4),
  n = c(48L, 48L, 48L, 48L, 200L, 30L, 10L, 3L, 1000L, 2L)
)
ncp_root <- function(t, df, p) {
  f <- function(ncp) withCallingHandlers(pt(t, df, ncp) - p,
                                         warning = function(w) stop(conditionMessage(w)))
  uniroot(f, lower = t - 5, upper = t + 5, extendInt = "yes", tol = 1e-12,
          maxiter = 10000)$root
}
out <- do.call(rbind, lapply(seq_len(nrow(cases)), function(i) {
  t <- cases$t[i]; n <- cases$n[i]; df <- n - 1
  ncp_low <- ncp_root(t, df, 0.975)
  ncp_high <- ncp_root(t, df, 0.025)
  stopifnot(abs(ncp_low) <= 37.62, abs(ncp_high) <= 37.62,
            abs(pt(t, df, ncp_low) - 0.975) < 1e-10, abs(pt(t, df, ncp_high) - 0.025) < 1e-10)
  data.frame(t = t, n = n, df = df, ncp_low = ncp_low, ncp_high = ncp_high,
             d_z_ci_low = ncp_low / sqrt(n), d_z_ci_high = ncp_high / sqrt(n))
}))
write_ref(out, file.path(exp_dir, "dz_interval.csv"))
writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_dz_interval.txt"))
