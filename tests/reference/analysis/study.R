# The analysis's data preparation and model formulas in R, shared by
# make_reference.R and benches/analysis/lme4_timing.R.

strategies <- c("SS-R", "MS-SR@FC", "MS-CR@6", "MS-CR@4", "MS-CR@2", "MSS-CR")
keys <- c("SSR", "MSSRFC", "MSCR6", "MSCR4", "MSCR2", "MSSCR")

# Mean over split repeats per (representation, dataset) of the runs' scores
# (baselines left out), y* within dataset (sample sd), n*, r*, and the
# per-strategy indicator (i_) and slope (s_ = i_ n*) columns of Model 1.
prepare_study <- function(runs_csv, scores_csv) {
  runs <- read.csv(runs_csv, stringsAsFactors = FALSE)
  scores <- read.csv(scores_csv, stringsAsFactors = FALSE)
  learned <- scores[scores$representation %in% runs$run_id, ]
  avg <- aggregate(value ~ representation + dataset, data = learned, FUN = mean)
  d <- merge(avg, runs, by.x = "representation", by.y = "run_id")
  d <- d[order(d$representation, d$dataset), ]
  d$y_star <- ave(d$value, d$dataset, FUN = function(v) (v - mean(v)) / sd(v))
  d$n_star <- ifelse(d$strategy == "SS-R", 0, d$n_sources - 2)
  d$r_star <- (match(d$strategy, strategies) - 1) / 5
  for (k in seq_along(strategies)) {
    d[[paste0("i_", keys[k])]] <- as.numeric(d$strategy == strategies[k])
    if (k > 1) d[[paste0("s_", keys[k])]] <- d[[paste0("i_", keys[k])]] * d$n_star
  }
  d
}

# The random effects' covariance: "independent" variances, as in the
# paper's equations (lme4's double bar `||`, which splits a term into one
# term per column), or "unstructured" (lme4's default `|`).
bar <- function(structure) switch(structure, independent = "||", unstructured = "|")

# Model 1: one fixed intercept per strategy and one fixed slope per
# multi-source strategy; per strategy, a (intercept, slope) random effect per
# dataset with its own 2x2 covariance (SS-R: intercept only, since its n* is
# always 0). Each term's columns are zero outside its strategy, so this is
# exactly u_rd ~ N(0, Sigma_r).
fixed1 <- c(paste0("i_", keys), paste0("s_", keys[-1]))
model1_formula <- function(structure) {
  random1 <- c("(0 + i_SSR | dataset)",
               sprintf("(0 + i_%s + s_%s %s dataset)", keys[-1], keys[-1], bar(structure)))
  as.formula(paste("y_star ~ 0 +", paste(fixed1, collapse = " + "), "+",
                   paste(random1, collapse = " + ")))
}

# Model 2: overall intercept, fixed r*, n*, r*:n*, and random dataset slopes
# of the three.
model2_formula <- function(structure) {
  as.formula(sprintf("y_star ~ 1 + r_star * n_star + (0 + r_star + n_star + r_star:n_star %s dataset)",
                     bar(structure)))
}
