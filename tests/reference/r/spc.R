# Reference values for coacheval.quality.spc: centre lines and control limits of
# p, p' (Laney), u, u' (Laney) and I/MR charts, runs analysis (longest run and
# crossings around the centre line) and the Anhøj critical values.
#
# Run from the repository root:
#     Rscript tests/reference/r/spc.R
#
# Needs only r-base-core.  Neither qcc nor qicharts2 is packaged by Debian (only
# r-cran-spc, which computes ARLs of CUSUM/EWMA schemes, not these limits), so
# this script is a second, independent implementation of the textbook formulas
# in base R, written the way qicharts2's qic() computes them (runs analysis as
# in qicharts2:::runs.analysis: sign(y - cl), points on the centre dropped,
# rle(); Laney sigma_z as mean(abs(diff(z))) / 1.128).  No random numbers.
#
# Data sets (public, shipped with the R package qcc 2.7, data/*.txt, all from
# Montgomery, Introduction to Statistical Quality Control), copied to
# tests/reference/data/spc_*.csv:
#
# * orangejuice: nonconforming cans D in 54 samples of 50; samples 1-30 are the
#   trial samples, 31-54 were taken after a machine adjustment (two phases).
# * circuit: nonconformities x in 46 samples of 100 printed circuit boards;
#   1-26 trial, 27-46 later (two phases).  As a u chart with size 1 this is
#   Montgomery's c chart; with size 100 the rate is per board.
# * pcmanufact: nonconformities x in 20 samples of 5 computers (u chart).
# * dyedcloth: nonconformities x in 10 rolls of dyed cloth of varying size
#   (units of 50 m^2): u chart with variable limits.
# * viscosity: viscosity of 35 batches of aircraft primer paint; 1-20 trial,
#   21-35 later (I/MR chart with two phases).
#
# Number format in every CSV: see _common.R.

source(file.path("tests", "reference", "r", "_common.R"))

# ------------------------------------------------------------------ helpers ---

runs_ref <- function(y, cl) {
  s <- sign(y - cl)
  s <- s[s != 0 & !is.na(s)]
  n <- length(s)
  if (n == 0) return(c(n_useful = 0, longest_run = 0, n_crossings = 0))
  r <- rle(s)$lengths
  c(n_useful = n, longest_run = max(r), n_crossings = length(r) - 1)
}

attr_chart <- function(x, n, phase, type = c("p", "u"), laney = FALSE) {
  type <- match.arg(type)
  out <- list()
  runs <- list()
  for (ph in unique(phase)) {
    i <- phase == ph
    y <- x[i] / n[i]
    cl <- sum(x[i]) / sum(n[i])
    s <- if (type == "p") sqrt(cl * (1 - cl) / n[i]) else sqrt(cl / n[i])
    sz <- NA_real_
    if (laney) {
      z <- (y - cl) / s
      sz <- mean(abs(diff(z))) / 1.128
      s <- s * sz
    }
    lcl <- pmax(cl - 3 * s, 0)
    ucl <- cl + 3 * s
    if (type == "p") ucl <- pmin(ucl, 1)
    out[[ph]] <- data.frame(phase = ph, value = y, centre = cl, lower = lcl, upper = ucl,
                            sigma_z = sz)
    runs[[ph]] <- data.frame(phase = ph, t(runs_ref(y, cl)))
  }
  list(points = do.call(rbind, out), runs = do.call(rbind, runs))
}

imr_chart <- function(y, phase) {
  out <- list()
  runs <- list()
  for (ph in unique(phase)) {
    v <- y[phase == ph]
    mr <- abs(diff(v))
    mrbar <- mean(mr)
    cl <- mean(v)
    s <- mrbar / 1.128
    out[[ph]] <- data.frame(phase = ph, value = v, centre = cl, lower = cl - 3 * s,
                            upper = cl + 3 * s, moving_range = c(NA, mr), mr_centre = mrbar,
                            mr_upper = 3.267 * mrbar)
    runs[[ph]] <- data.frame(phase = ph, t(runs_ref(v, cl)))
  }
  list(points = do.call(rbind, out), runs = do.call(rbind, runs))
}

run_ref <- function(y, phase) {
  out <- list()
  runs <- list()
  for (ph in unique(phase)) {
    v <- y[phase == ph]
    cl <- median(v)
    out[[ph]] <- data.frame(phase = ph, value = v, centre = cl)
    runs[[ph]] <- data.frame(phase = ph, t(runs_ref(v, cl)))
  }
  list(points = do.call(rbind, out), runs = do.call(rbind, runs))
}

all_points <- list()
all_runs <- list()
add <- function(case, res) {
  all_points[[case]] <<- data.frame(case = case, res$points)
  all_runs[[case]] <<- data.frame(case = case, res$runs)
}

# --------------------------------------------------------------------- data ---

oj <- read.csv(file.path(data_dir, "spc_orangejuice.csv"))
circ <- read.csv(file.path(data_dir, "spc_circuit.csv"))
pc <- read.csv(file.path(data_dir, "spc_pcmanufact.csv"))
dc <- read.csv(file.path(data_dir, "spc_dyedcloth.csv"))
vi <- read.csv(file.path(data_dir, "spc_viscosity.csv"))
ph <- function(trial) ifelse(as.logical(trial), "trial", "after")
oj$trial <- as.logical(oj$trial)
circ$trial <- as.logical(circ$trial)

tr <- oj$trial
add("oj_trial_p", attr_chart(oj$D[tr], oj$size[tr], rep("all", sum(tr)), "p"))
add("oj_trial_pp", attr_chart(oj$D[tr], oj$size[tr], rep("all", sum(tr)), "p", TRUE))
add("oj_phases_p", attr_chart(oj$D, oj$size, ph(oj$trial), "p"))
add("oj_phases_pp", attr_chart(oj$D, oj$size, ph(oj$trial), "p", TRUE))
add("oj_phases_run", run_ref(oj$D / oj$size, ph(oj$trial)))

tr <- circ$trial
add("circuit_trial_c", attr_chart(circ$x[tr], rep(1, sum(tr)), rep("all", sum(tr)), "u"))
add("circuit_phases_u", attr_chart(circ$x, circ$size, ph(circ$trial), "u"))
add("circuit_phases_up", attr_chart(circ$x, circ$size, ph(circ$trial), "u", TRUE))

add("pcmanufact_u", attr_chart(pc$x, pc$size, rep("all", nrow(pc)), "u"))
add("dyedcloth_u", attr_chart(dc$x, dc$size, rep("all", nrow(dc)), "u"))
add("dyedcloth_up", attr_chart(dc$x, dc$size, rep("all", nrow(dc)), "u", TRUE))

add("viscosity_imr", imr_chart(vi$viscosity, ph(vi$trial)))
add("viscosity_run", run_ref(vi$viscosity, ph(vi$trial)))

points <- do.call(rbind, lapply(all_points, function(d) {
  for (col in c("lower", "upper", "sigma_z", "moving_range", "mr_centre", "mr_upper"))
    if (is.null(d[[col]])) d[[col]] <- NA_real_
  d[, c("case", "phase", "value", "centre", "lower", "upper", "sigma_z", "moving_range",
        "mr_centre", "mr_upper")]
}))
write_ref(points, file.path(exp_dir, "spc_points.csv"))
runs <- do.call(rbind, all_runs)
runs$n_useful <- as.integer(runs$n_useful)
runs$longest_run <- as.integer(runs$longest_run)
runs$n_crossings <- as.integer(runs$n_crossings)
write_ref(runs, file.path(exp_dir, "spc_runs.csv"))

# ---------------------------------------------------- Anhøj critical values ---
n <- 1:300
write_ref(data.frame(n = n,
                     longest_run_max = as.integer(round(log2(n) + 3)),
                     crossings_min = as.integer(qbinom(0.05, n - 1, 0.5))),
          file.path(exp_dir, "spc_anhoej_limits.csv"))

writeLines(capture.output(sessionInfo()), file.path(exp_dir, "sessionInfo_spc.txt"))
