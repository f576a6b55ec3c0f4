# The lme4 side of the analysis benchmark (see compare_lme4.sh): times the
# REML fit of Model 1 with independent random effects (the stage's
# default; lme4's default optimiser settings) and its parametric bootstrap
# with bootMer, on the committed reference study.
#
# Usage: Rscript lme4_timing.R REFERENCE_DIR OUT_JSON NSIM
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
ref <- args[1]
out <- args[2]
nsim <- as.integer(args[3])
source(file.path(ref, "study.R"))
d <- prepare_study(file.path(ref, "runs.csv"), file.path(ref, "scores.csv"))
f1 <- model1_formula("independent")

fit_times <- sapply(1:5, function(i) system.time(m1 <<- lmer(f1, data = d, REML = TRUE))[["elapsed"]])
percentile <- function(b) apply(b$t, 2, quantile, probs = c(0.025, 0.975), type = 7, na.rm = TRUE)
boot_one <- system.time(b1 <- bootMer(m1, fixef, nsim = nsim, type = "parametric", seed = 1))[["elapsed"]]
cores <- parallel::detectCores()
boot_all <- system.time(bootMer(m1, fixef, nsim = nsim, type = "parametric", seed = 1,
                                parallel = "multicore", ncpus = cores))[["elapsed"]]
ci <- percentile(b1)
result <- list(
  lme4 = as.character(packageVersion("lme4")),
  R = R.version.string,
  n = nrow(d),
  reml_log_likelihood = as.numeric(logLik(m1)),
  fixed = as.list(fixef(m1)),
  fit_seconds = fit_times,
  bootstrap = list(nsim = nsim, seconds_one_core = boot_one, cores = cores,
                   seconds_all_cores = boot_all, ci_low = ci[1, ], ci_high = ci[2, ])
)
writeLines(toJSON(result, auto_unbox = TRUE, digits = NA, pretty = TRUE), out)
cat(sprintf("lme4 %s: Model 1 fit median %.1f ms (of 5); bootMer %d parametric: %.2f s on 1 core, %.2f s on %d cores\n",
            result$lme4, 1000 * median(fit_times), nsim, boot_one, boot_all, cores))
