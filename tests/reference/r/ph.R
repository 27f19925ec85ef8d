# Reference values for coacheval.retention.ph: Schoenfeld and scaled
# Schoenfeld residuals (residuals.coxph type = "schoenfeld" / "scaledsch") and
# the proportional-hazards score tests of survival 3.x's cox.zph (per term and
# global; transforms km, rank, identity, log; terms = TRUE / FALSE), plus the
# natural-spline smooth with +-2 SE bands that plot.cox.zph draws.
#
# Run from the repository root:
#     Rscript tests/reference/r/ph.R
#
# Needs the Debian packages r-base-core and r-cran-survival only (splines is
# part of base R).  No network access, no random numbers: deterministic.
#
# Data sets (public, shipped with survival):
#
# * lung: survival::lung, complete cases on time, status, age, sex, ph.ecog,
#   inst (226 rows), event = status - 1, case weight w = 0.5 + (row %% 4) / 4.
#   Fits: Efron, Breslow, weighted, strata(sex), strata(inst) (institution 33
#   has a single event), and strata(sex) with ecog_female = ph_ecog * (sex == 2),
#   a covariate constant (0) within the male stratum, so cox.zph's scaled
#   residuals are NA there.
# * veteran: survival::veteran (137 rows); karno is the textbook violation of
#   proportional hazards.  celltype enters as a factor (3 dummy columns
#   celltype_smallcell, celltype_adeno, celltype_large; squamous is the
#   reference) so cox.zph's terms = TRUE groups them into one 3-df test.
# * heart: survival::heart, Stanford heart transplant in counting-process form
#   (start, stop] with transplant as a time-varying covariate (172 rows); case
#   weight w = 0.5 + (row %% 4) / 4; strata(surgery).
#
# Every fit uses coxph.control(eps = 1e-11, iter.max = 100) (converged
# maximum; cox.zph works at the fitted coefficients, so the convergence rule
# matters at the ~1e-8 level otherwise).
#
# Outputs (expected/):
#   ph_fit.csv        case, term, coef (the fit cox.zph starts from)
#   ph_tests.csv      case, transform, terms, term, chisq, df, p
#   ph_schoenfeld.csv case, row, time, term, schoenfeld, scaledsch  (residuals())
#   ph_zph_resid.csv  case, transform, terms, row, time, x, term, y  (cox.zph$y)
#   ph_zph_var.csv    case, transform, terms, term1, term2, var      (cox.zph$var)
#   ph_smooth.csv     case, transform, term, k, x, fit, lower, upper (plot.cox.zph)
# `row` is the 1-based row of the data set (data/ph_<name>.csv) an event
# residual belongs to.

suppressPackageStartupMessages({
  library(survival)
  library(splines)
})

source(file.path("tests", "reference", "r", "_common.R"))

ctrl <- coxph.control(eps = 1e-11, iter.max = 100)

# ================================================================ 1. data ===
lung_d <- survival::lung[complete.cases(survival::lung[, c("time", "status", "age", "sex",
                                                           "ph.ecog", "inst")]), ]
lung_d <- data.frame(time = lung_d$time, event = as.integer(lung_d$status - 1L),
                     age = lung_d$age, sex = lung_d$sex, ph_ecog = lung_d$ph.ecog,
                     inst = as.integer(lung_d$inst))
lung_d$w <- 0.5 + (seq_len(nrow(lung_d)) %% 4) / 4
lung_d$ecog_female <- lung_d$ph_ecog * (lung_d$sex == 2)
write_ref(lung_d, file.path(data_dir, "ph_lung.csv"))

vet <- survival::veteran
vet_d <- data.frame(time = vet$time, event = as.integer(vet$status), trt = as.integer(vet$trt),
                    karno = vet$karno, age = vet$age, prior = as.integer(vet$prior),
                    celltype = as.character(vet$celltype),
                    celltype_smallcell = as.integer(vet$celltype == "smallcell"),
                    celltype_adeno = as.integer(vet$celltype == "adeno"),
                    celltype_large = as.integer(vet$celltype == "large"))
write_ref(vet_d, file.path(data_dir, "ph_veteran.csv"))

heart_d <- data.frame(start = survival::heart$start, stop = survival::heart$stop,
                      event = as.integer(survival::heart$event),
                      transplant = as.integer(as.character(survival::heart$transplant)),
                      age = survival::heart$age, year = survival::heart$year,
                      surgery = as.integer(survival::heart$surgery),
                      id = as.integer(survival::heart$id))
heart_d$w <- 0.5 + (seq_len(nrow(heart_d)) %% 4) / 4
write_ref(heart_d, file.path(data_dir, "ph_heart.csv"))

# ================================================================ 2. fits ===
# Each case: the fit and the transforms at which cox.zph is evaluated.
vet_f <- transform(vet_d, celltype = factor(celltype,
                                            levels = c("squamous", "smallcell", "adeno",
                                                       "large")))
cases <- list(
  # coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d)
  lung_efron = list(fit = coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d,
                                ties = "efron", control = ctrl),
                    transforms = c("km", "rank", "identity", "log")),
  lung_breslow = list(fit = coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d,
                                  ties = "breslow", control = ctrl),
                      transforms = c("km", "identity")),
  lung_weighted = list(fit = coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung_d,
                                   weights = w, ties = "efron", control = ctrl),
                       transforms = c("km", "rank")),
  lung_strata_sex = list(fit = coxph(Surv(time, event) ~ age + ph_ecog + strata(sex),
                                     data = lung_d, ties = "efron", control = ctrl),
                         transforms = c("km", "identity")),
  lung_strata_inst = list(fit = coxph(Surv(time, event) ~ age + sex + ph_ecog + strata(inst),
                                      data = lung_d, ties = "breslow", control = ctrl),
                          transforms = c("km")),
  # ecog_female = ph_ecog * (sex == 2) is constant (0) within the male stratum: cox.zph's
  # scaled residuals are NA there and its variance divides by the female events only
  lung_strata_constant = list(fit = coxph(Surv(time, event) ~ age + ph_ecog + ecog_female +
                                            strata(sex), data = lung_d, ties = "efron",
                                          control = ctrl),
                              transforms = c("km", "identity")),
  # celltype as a factor: 3 dummy columns, one term
  veteran_factor = list(fit = coxph(Surv(time, event) ~ trt + karno + age + prior + celltype,
                                    data = vet_f, ties = "efron", control = ctrl),
                        transforms = c("km", "rank", "log")),
  veteran_strata = list(fit = coxph(Surv(time, event) ~ trt + karno + age + prior +
                                      strata(celltype), data = vet_d, ties = "efron",
                                    control = ctrl),
                        transforms = c("km", "identity")),
  heart_efron = list(fit = coxph(Surv(start, stop, event) ~ transplant + age + year + surgery,
                                 data = heart_d, ties = "efron", control = ctrl),
                     transforms = c("km", "rank", "identity", "log")),
  heart_breslow = list(fit = coxph(Surv(start, stop, event) ~ transplant + age + year +
                                     surgery, data = heart_d, ties = "breslow",
                                   control = ctrl),
                       transforms = c("km", "identity")),
  heart_weighted_strata = list(fit = coxph(Surv(start, stop, event) ~ transplant + age + year +
                                             strata(surgery), data = heart_d, weights = w,
                                           ties = "efron", control = ctrl),
                               transforms = c("km", "rank"))
)

# R's coefficient names -> the data columns coacheval uses
rename <- function(x) {
  x <- sub("^ph.ecog$", "ph_ecog", x)
  x <- sub("^celltype(smallcell|adeno|large)$", "celltype_\\1", x)
  x
}

fit_rows <- list()
test_rows <- list()
sch_rows <- list()
zres_rows <- list()
zvar_rows <- list()
smooth_rows <- list()

smooth_zph <- function(z, i, df = 4, nsmo = 40) {
  # the computation inside survival:::plot.cox.zph (resid = TRUE, se = TRUE)
  xx <- z$x
  pred.x <- seq(from = min(xx), to = max(xx), length = nsmo)
  lmat <- ns(c(pred.x, xx), df = df, intercept = TRUE)
  pmat <- lmat[1:nsmo, ]
  xmat <- lmat[-(1:nsmo), ]
  y <- z$y[, i]
  keep <- !is.na(y)
  qmat <- qr(xmat[keep, ])
  yhat <- pmat %*% qr.coef(qmat, y[keep])
  bk <- backsolve(qmat$qr[1:df, 1:df], diag(df))
  xtx <- bk %*% t(bk)
  seval <- ((pmat %*% xtx) * pmat) %*% rep(1, df)
  temp <- 2 * sqrt(z$var[i, i] * seval)
  data.frame(k = seq_len(nsmo), x = pred.x, fit = drop(yhat), lower = drop(yhat - temp),
             upper = drop(yhat + temp))
}

for (nm in names(cases)) {
  f <- cases[[nm]]$fit
  fit_rows[[nm]] <- data.frame(case = nm, term = rename(names(coef(f))), coef = unname(coef(f)))

  # --- residuals(): rows in the order of residuals.coxph (stratum, time, deaths first)
  y <- f$y
  ny <- ncol(y)
  status <- y[, ny]
  strat <- survival:::coxph.getdata(f, y = TRUE, x = TRUE, stratax = TRUE)$strata
  st <- if (is.null(strat)) rep(0, nrow(y)) else as.numeric(strat)
  ord <- order(st, y[, ny - 1], -status)
  rows <- ord[status[ord] == 1]
  sch <- as.matrix(residuals(f, type = "schoenfeld"))
  ssch <- as.matrix(residuals(f, type = "scaledsch"))
  if (!all(as.numeric(rownames(sch)) == y[rows, ny - 1])) stop("row order ", nm)
  terms <- rename(names(coef(f)))
  for (j in seq_along(terms)) {
    sch_rows[[paste(nm, j)]] <- data.frame(case = nm, row = rows, time = y[rows, ny - 1],
                                           term = terms[j], schoenfeld = unname(sch[, j]),
                                           scaledsch = unname(ssch[, j]))
  }

  # --- cox.zph
  istrat <- if (is.null(strat)) rep(0L, nrow(y)) else as.integer(strat) - 1L
  zrows <- if (ny == 2) order(istrat, y[, 1]) else rev(order(-istrat, -y[, 2]))
  zrows <- zrows[status[zrows] == 1]
  for (tr in cases[[nm]]$transforms) {
    for (tm in c(TRUE, FALSE)) {
      if (!tm && !grepl("^veteran_factor", nm) && tr != "km") next
      z <- cox.zph(f, transform = tr, terms = tm, global = TRUE)
      stopifnot(all(z$time == y[zrows, ny - 1]))
      tab <- z$table
      tnames <- rownames(tab)
      tnames[tnames != "GLOBAL"] <- rename(tnames[tnames != "GLOBAL"])
      test_rows[[paste(nm, tr, tm)]] <- data.frame(case = nm, transform = tr, terms = tm,
                                                   term = tnames, chisq = unname(tab[, 1]),
                                                   df = unname(tab[, 2]),
                                                   p = unname(tab[, 3]))
      zt <- rename(colnames(z$y))
      for (j in seq_along(zt)) {
        zres_rows[[paste(nm, tr, tm, j)]] <- data.frame(case = nm, transform = tr, terms = tm,
                                                        row = zrows, time = z$time, x = z$x,
                                                        term = zt[j], y = unname(z$y[, j]))
        for (k in seq_along(zt)) {
          zvar_rows[[paste(nm, tr, tm, j, k)]] <- data.frame(case = nm, transform = tr,
                                                             terms = tm, term1 = zt[j],
                                                             term2 = zt[k],
                                                             var = z$var[j, k])
        }
        if (tm && tr %in% c("km", "identity")) {
          smooth_rows[[paste(nm, tr, j)]] <- cbind(data.frame(case = nm, transform = tr,
                                                              term = zt[j]),
                                                   smooth_zph(z, j))
        }
      }
    }
  }
}

write_ref(do.call(rbind, fit_rows), file.path(exp_dir, "ph_fit.csv"))
write_ref(do.call(rbind, test_rows), file.path(exp_dir, "ph_tests.csv"))
write_ref(do.call(rbind, sch_rows), file.path(exp_dir, "ph_schoenfeld.csv"))
write_ref(do.call(rbind, zres_rows), file.path(exp_dir, "ph_zph_resid.csv"))
write_ref(do.call(rbind, zvar_rows), file.path(exp_dir, "ph_zph_var.csv"))
write_ref(do.call(rbind, smooth_rows), file.path(exp_dir, "ph_smooth.csv"))

writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_ph.txt"))
