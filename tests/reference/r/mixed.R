# Reference values for coacheval.effects.mixed (fit_mixed): random-intercept linear mixed models.
#
# Run from the repository root:
#     Rscript tests/reference/r/mixed.R
#
# Needs the Debian packages r-base-core, r-cran-lme4 (data sets sleepstudy, Penicillin, Pastes,
# Dyestuff2, cake ship with lme4) and r-cran-lmertest (Satterthwaite degrees of freedom; it
# pulls in numDeriv).  No network access, no CRAN.  All paths are relative to the repository
# root.  The script is deterministic: two runs give byte-identical files.
#
# Every case is fitted with lmerTest::lmer (an lme4::lmer fit plus lmerTest's Satterthwaite
# machinery; estimates are those of lme4::lmer) by REML and by ML, twice:
#   fit = "default": lmerControl() as users run it (nloptwrap BOBYQA, xtol_abs = ftol_abs = 1e-8);
#   fit = "tight":   the same optimiser with xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel =
#                    ftol_rel = 0, so theta is the optimum to about 1e-8 relative (the limit of a
#                    derivative-free method on a criterion of size ~1e3 computed to ~1e-13).
#
# Number format in every CSV written here: numbers are written with the shortest of
# sprintf("%.15g"/"%.16g"/"%.17g") that reads back as the same IEEE double (so parsing the
# text gives R's value bit for bit), integers as integers, logicals as TRUE/FALSE, missing
# values as an empty field.
#
# Outputs (tests/reference/expected/):
#   mixed_fixed.csv      case, method, fit, term, estimate, std_error, df, statistic, p_value,
#                        conf_low, conf_high: summary(fit)$coefficients (Satterthwaite df, t,
#                        p) and lmerTest::contest1D(fit, L, confint = TRUE) for the 95% interval
#                        (estimate -/+ qt(0.975, df) * SE).
#   mixed_varcomp.csv    case, method, fit, group, variance, std_dev, theta, n_groups:
#                        as.data.frame(VarCorr(fit)) (vcov, sdcor), getME(fit, "theta"),
#                        ngrps(fit); the residual row has group "Residual" and empty theta and
#                        n_groups.
#   mixed_fit.csv        case, method, fit, n_obs, loglik (logLik(fit): the REML criterion / -2
#                        for REML fits), criterion (REMLcrit(fit) for REML, deviance(fit) for ML),
#                        aic, bic (AIC(fit), BIC(fit)), npar, sigma (sigma(fit)), singular
#                        (isSingular(fit)), feval (optimiser evaluations).
#   mixed_contrasts.csv  case, method, fit, label, weights (space separated, in term order),
#                        estimate, std_error, df, statistic, p_value, conf_low, conf_high from
#                        lmerTest::contest1D(fit, L, confint = TRUE).
#   mixed_conditions.csv every warning or message raised while fitting (case, method, fit,
#                        type, text).
#   sessionInfo_mixed.txt  capture.output(sessionInfo()).
# Inputs written to tests/reference/data/: mixed_<case>.csv (the data exactly as fitted).


suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
})

source(file.path("tests", "reference", "r", "_common.R"))

cond_log <- data.frame(case = character(), method = character(), fit = character(),
                       type = character(), text = character())
logged <- function(expr, case, method, fit) {
  withCallingHandlers(expr,
    warning = function(w) {
      cond_log[nrow(cond_log) + 1, ] <<- list(case, method, fit, "warning",
                                              trimws(conditionMessage(w)))
      invokeRestart("muffleWarning")
    },
    message = function(m) {
      cond_log[nrow(cond_log) + 1, ] <<- list(case, method, fit, "message",
                                              trimws(conditionMessage(m)))
      invokeRestart("muffleMessage")
    })
}

# ------------------------------------------------------------------ data ---
# (a) sleepstudy: 18 subjects x 10 days, Reaction ~ Days + (1 | Subject).
sleep <- data.frame(Reaction = lme4::sleepstudy$Reaction, Days = lme4::sleepstudy$Days,
                    Subject = as.character(lme4::sleepstudy$Subject))
# (a') the same with subject 308 reduced to its day-0 observation: a group with one observation.
sleep_single <- sleep[!(sleep$Subject == "308" & sleep$Days > 0), ]
# (b) Penicillin: 24 plates x 6 samples, fully crossed.
pen <- data.frame(diameter = Penicillin$diameter, plate = as.character(Penicillin$plate),
                  sample = as.character(Penicillin$sample))
# (c) Pastes: 10 batches, 3 casks each (labels a, b, c repeat across batches), 2 tests per cask;
#     sample = batch:cask is the cask with unique labels.
pastes <- data.frame(strength = Pastes$strength, batch = as.character(Pastes$batch),
                     cask = as.character(Pastes$cask), sample = as.character(Pastes$sample))
# (d) Dyestuff2: 6 batches x 5, no between-batch variance: a singular fit (theta = 0).
dye2 <- data.frame(Yield = Dyestuff2$Yield, Batch = as.character(Dyestuff2$Batch))
# (e) cake: 3 recipes x 15 replicates x 6 temperatures; several fixed effects (dummies and their
#     interactions with temperature, built here so both languages use the same columns), random
#     intercept for each recipe:replicate batch of batter.
cake_df <- data.frame(angle = as.numeric(cake$angle), temp = cake$temp,
                      recipe = as.character(cake$recipe),
                      replicate = as.character(cake$replicate))
cake_df$recipeB <- as.numeric(cake_df$recipe == "B")
cake_df$recipeC <- as.numeric(cake_df$recipe == "C")
cake_df$recipeB_temp <- cake_df$recipeB * cake_df$temp
cake_df$recipeC_temp <- cake_df$recipeC * cake_df$temp
cake_df$batch <- paste(cake_df$recipe, cake_df$replicate, sep = ":")

cases <- list(
  sleepstudy = list(data = sleep, formula = Reaction ~ Days + (1 | Subject),
                    contrasts = list("(Intercept) + 9*Days" = c(1, 9))),
  sleepstudy_single = list(data = sleep_single, formula = Reaction ~ Days + (1 | Subject),
                           contrasts = list()),
  penicillin = list(data = pen, formula = diameter ~ 1 + (1 | plate) + (1 | sample),
                    contrasts = list()),
  pastes = list(data = pastes, formula = strength ~ 1 + (1 | batch / cask), contrasts = list()),
  dyestuff2 = list(data = dye2, formula = Yield ~ 1 + (1 | Batch), contrasts = list()),
  cake = list(data = cake_df,
              formula = angle ~ recipeB + recipeC + temp + recipeB_temp + recipeC_temp +
                (1 | batch),
              contrasts = list("recipeB - recipeC" = c(0, 1, -1, 0, 0, 0),
                               "recipeB_temp - recipeC_temp" = c(0, 0, 0, 0, 1, -1),
                               "(Intercept) + 200*temp" = c(1, 0, 0, 200, 0, 0)))
)
for (nm in names(cases)) write_ref(cases[[nm]]$data, file.path(data_dir, paste0("mixed_", nm, ".csv")))

controls <- list(
  default = lmerControl(),
  tight = lmerControl(optimizer = "nloptwrap",
                      optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 0,
                                     ftol_rel = 0, maxeval = 1e5))
)

# ------------------------------------------------------------------ fits ---
fixed_rows <- list(); vc_rows <- list(); fit_rows <- list(); con_rows <- list()
contest_row <- function(fit, L) {
  ct <- lmerTest::contest1D(fit, L, confint = TRUE, level = 0.95)
  data.frame(estimate = ct[["Estimate"]], std_error = ct[["Std. Error"]], df = ct[["df"]],
             statistic = ct[["t value"]], p_value = ct[["Pr(>|t|)"]],
             conf_low = ct[["lower"]], conf_high = ct[["upper"]])
}
for (nm in names(cases)) {
  cs <- cases[[nm]]
  for (method in c("REML", "ML")) {
    for (ctl in names(controls)) {
      fit <- logged(lmerTest::lmer(cs$formula, data = cs$data, REML = method == "REML",
                                   control = controls[[ctl]]), nm, method, ctl)
      key <- data.frame(case = nm, method = method, fit = ctl)
      beta <- lme4::fixef(fit)
      p <- length(beta)
      for (j in seq_len(p)) {
        L <- as.numeric(seq_len(p) == j)
        row <- logged(contest_row(fit, L), nm, method, ctl)
        fixed_rows[[length(fixed_rows) + 1]] <- cbind(key, term = names(beta)[j], row)
      }
      vc <- as.data.frame(VarCorr(fit))
      theta <- getME(fit, "theta")
      names(theta) <- sub("\\.\\(Intercept\\)$", "", names(theta))
      ng <- ngrps(fit)
      vc_rows[[length(vc_rows) + 1]] <- cbind(key, data.frame(
        group = vc$grp, variance = vc$vcov, std_dev = vc$sdcor,
        theta = unname(ifelse(vc$grp == "Residual", NA, theta[vc$grp])),
        n_groups = unname(ifelse(vc$grp == "Residual", NA, as.integer(ng[vc$grp])))))
      ll <- logLik(fit)
      fit_rows[[length(fit_rows) + 1]] <- cbind(key, data.frame(
        n_obs = nobs(fit), loglik = as.numeric(ll),
        criterion = if (method == "REML") REMLcrit(fit) else deviance(fit),
        aic = AIC(fit), bic = BIC(fit), npar = as.integer(attr(ll, "df")), sigma = sigma(fit),
        singular = isSingular(fit), feval = as.integer(fit@optinfo$feval)))
      for (lab in names(cs$contrasts)) {
        L <- cs$contrasts[[lab]]
        row <- logged(contest_row(fit, L), nm, method, ctl)
        con_rows[[length(con_rows) + 1]] <- cbind(key, label = lab,
                                                  weights = paste(L, collapse = " "), row)
      }
    }
  }
}

write_ref(do.call(rbind, fixed_rows), file.path(exp_dir, "mixed_fixed.csv"))
write_ref(do.call(rbind, vc_rows), file.path(exp_dir, "mixed_varcomp.csv"))
write_ref(do.call(rbind, fit_rows), file.path(exp_dir, "mixed_fit.csv"))
write_ref(do.call(rbind, con_rows), file.path(exp_dir, "mixed_contrasts.csv"))
write_ref(cond_log, file.path(exp_dir, "mixed_conditions.csv"))
writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_mixed.txt"))
cat("wrote", length(fixed_rows), "fixed-effect rows,", length(vc_rows), "fits\n")
