# Reference behaviour of coxph when the partial likelihood is monotone (a coefficient is
# infinite): the warnings of survival's coxph.fit (Surv(time, event)) and agreg.fit
# (Surv(start, stop, event)), for coacheval.retention.cox.fit_cox's CoxConvergenceWarning.
#
# Run from the repository root:
#     Rscript tests/reference/r/cox_infinite.R
#
# Needs r-base-core and r-cran-survival only; deterministic.
#
# Data: test3 of survival's own test suite (tests/infcox.R, "a test to exercise the
# 'infinity' check on 2 variables"): 12 subjects, deaths at times 1, 3 and 5, all with
# x1 = 0 and x2 = 0, so both coefficients run off to minus infinity. test3b (survival's
# testthat version) is the same data with start = 0, fitted by agreg.fit.
#
# The rule after convergence (survival 3.5-3, read from survival:::coxph.fit and
# survival:::agreg.fit): infs <- abs(u %*% var) with u the score and var the inverse
# information at the final coefficients;
#   coxph.fit: warn for variable j if !is.finite(u[j]) | (infs[j] > eps & infs[j] > toler.inf * abs(coef[j]))
#   agreg.fit: warn for variable j if !is.finite(u[j]) | infs[j] > toler.inf * (1 + abs(coef[j]))
# with eps = 1e-9 and toler.inf = sqrt(eps) (coxph.control defaults). Without convergence in
# iter.max iterations both warn "Ran out of iterations and did not converge" instead.

suppressPackageStartupMessages(library(survival))
source(file.path("tests", "reference", "r", "_common.R"))

test3 <- data.frame(start = 0, futime = 1:12, fustat = c(1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0),
                    x1 = rep(0:1, 6), x2 = c(rep(0, 6), rep(1, 6)))
write_ref(test3, file.path(data_dir, "cox_infinite_test3.csv"))

fit_one <- function(form, terms, iter_max) {
  rhs <- paste(terms, collapse = " + ")
  lhs <- if (form == "right") "Surv(futime, fustat)" else "Surv(start, futime, fustat)"
  msgs <- character()
  f <- withCallingHandlers(
    coxph(as.formula(paste(lhs, "~", rhs)), data = test3, iter.max = iter_max),
    warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") })
  stopifnot(length(msgs) == 1)
  kind <- if (grepl("Ran out of iterations", msgs)) "not_converged" else
    if (grepl("Loglik converged before variable", msgs)) "infinite" else stop(msgs)
  flagged <- rep(FALSE, length(terms))
  if (kind == "infinite") {
    which <- as.integer(strsplit(trimws(sub(";.*", "", sub(".*variable", "", msgs))), ",")[[1]])
    flagged[which] <- TRUE
  }
  step <- if (is.null(f$first)) rep(NA_real_, length(terms)) else as.vector(abs(f$first %*% f$var))
  data.frame(form = form, model = rhs, iter_max = as.integer(iter_max), term = terms,
             estimate = unname(coef(f)), iter = as.integer(f$iter), loglik = f$loglik[2],
             warning = kind, flagged = flagged, step = step, message = msgs)
}
out <- do.call(rbind, c(
  lapply(c("right", "counting"), function(form) fit_one(form, c("x1", "x2"), 25)),
  lapply(c("right", "counting"), function(form) fit_one(form, c("x1", "x2"), 20)),
  lapply(c("right", "counting"), function(form) fit_one(form, "x1", 20))
))
write_ref(out, file.path(exp_dir, "cox_infinite.csv"))
writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_cox_infinite.txt"))
