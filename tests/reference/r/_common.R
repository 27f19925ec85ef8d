# Shared set-up for the reference scripts in this folder: sourced by each one
# (run from the repository root), never run on its own.
#
# It checks the working directory, creates data/ and expected/, and defines the
# one CSV writer every script uses, so that all fixtures share one format:
# numbers with the shortest of %.15g/%.16g/%.17g that reads back as the same
# double (parsing the text gives R's value exactly), missing values as an empty
# field, text columns quoted, UTF-8.

options(digits = 17, warn = 1, stringsAsFactors = FALSE)

data_dir <- file.path("tests", "reference", "data")
exp_dir  <- file.path("tests", "reference", "expected")
if (!file.exists("pyproject.toml") || !dir.exists("tests"))
  stop("run from the repository root (Rscript tests/reference/r/<topic>.R)")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)
dir.create(exp_dir, showWarnings = FALSE, recursive = TRUE)

fmt_col <- function(x) {
  if (is.factor(x)) x <- as.character(x)
  if (is.logical(x)) {
    out <- ifelse(x, "TRUE", "FALSE")
  } else if (is.integer(x)) {
    out <- as.character(x)
  } else if (is.numeric(x)) {
    out <- sprintf("%.15g", x)
    for (d in 16:17) {
      bad <- !is.na(x) & suppressWarnings(as.numeric(out)) != x
      out[bad] <- sprintf(paste0("%.", d, "g"), x[bad])
    }
    out[is.infinite(x)] <- ifelse(x[is.infinite(x)] > 0, "Inf", "-Inf")
  } else {
    out <- as.character(x)
  }
  out[is.na(x)] <- NA_character_
  out
}

write_ref <- function(df, path) {
  df <- as.data.frame(df, stringsAsFactors = FALSE)
  out <- as.data.frame(lapply(df, fmt_col), stringsAsFactors = FALSE, check.names = FALSE)
  names(out) <- names(df)
  txt_cols <- which(vapply(df, function(x) is.character(x) || is.factor(x), NA))
  write.csv(out, path, row.names = FALSE, na = "",
            quote = if (length(txt_cols)) txt_cols else FALSE, fileEncoding = "UTF-8")
  invisible(path)
}
