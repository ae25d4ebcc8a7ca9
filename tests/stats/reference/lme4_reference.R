# Reference REML variance components from lme4, for tests/stats/test_stats_variance.py.
# Run once (Debian: apt-get install r-base-core r-cran-lme4), from the repository root:
#   Rscript tests/stats/reference/lme4_reference.R
# Writes lme4_sets.csv (set, session, clip, coder, value) and lme4_values.csv
# (set, component, variance; plus REMLcrit) next to this script.
suppressMessages(library(lme4))
here <- "tests/stats/reference"
set.seed(20261201)
rows <- list()

# 1. Shrout & Fleiss (1979) Table 2: 6 targets x 4 judges, complete.
sf <- matrix(c(9, 2, 5, 8, 6, 1, 3, 2, 8, 4, 6, 8, 7, 1, 2, 6, 10, 5, 6, 9, 6, 2, 4, 7),
             ncol = 4, byrow = TRUE)
rows[["shrout_fleiss"]] <- data.frame(set = "shrout_fleiss", session = "", clip = rep(1:6, each = 4),
                                      coder = rep(c("j1", "j2", "j3", "j4"), 6), value = c(t(sf)))

# 2. Incomplete: 60 clips, 4 coders in rotating pairs, every fifth clip by three.
clip <- c(); coder <- c(); value <- c()
truth <- rnorm(60, 3, 1); bias <- c(0, 0.4, -0.3, 0.2)
for (i in 1:60) {
  who <- ((i + 0:1) %% 4) + 1
  if (i %% 5 == 0) who <- c(who, ((i + 2) %% 4) + 1)
  for (j in who) {
    clip <- c(clip, i); coder <- c(coder, paste0("c", j))
    value <- c(value, round(truth[i] + bias[j] + rnorm(1, 0, 0.6)))
  }
}
rows[["incomplete"]] <- data.frame(set = "incomplete", session = "", clip = clip, coder = coder,
                                   value = value)

# 3. Coder variance at its bound 0 (equal coder means, so ANOVA's estimate is negative).
truth <- rnorm(30, 0, 1); e <- rnorm(15, 0, 0.5); e <- c(e, -e)
rows[["boundary"]] <- data.frame(set = "boundary", session = "", clip = rep(1:30, each = 2),
                                 coder = rep(c("a", "b"), 30),
                                 value = c(rbind(truth + e, truth - e)))

# 4. G-study (c:s) x r: 40 sessions x 5 clips, 3 coders; each clip by one coder, 30% by two.
session <- c(); clip <- c(); coder <- c(); value <- c()
s_eff <- rnorm(40, 0, 0.7); r_eff <- c(0, 0.3, -0.25)
sr_eff <- matrix(rnorm(120, 0, 0.25), 40, 3)
for (s in 1:40) for (k in 1:5) {
  c_eff <- rnorm(1, 0, 0.6)
  who <- sample(1:3, if (runif(1) < 0.3) 2 else 1)
  for (j in who) {
    session <- c(session, s); clip <- c(clip, (s - 1) * 5 + k); coder <- c(coder, paste0("r", j))
    value <- c(value, 3 + s_eff[s] + c_eff + r_eff[j] + sr_eff[s, j] + rnorm(1, 0, 0.5))
  }
}
rows[["gstudy"]] <- data.frame(set = "gstudy", session = session, clip = clip, coder = coder,
                               value = value)

sets <- do.call(rbind, rows)
write.csv(sets, file.path(here, "lme4_sets.csv"), row.names = FALSE)

# bobyqa (minqa): lme4's default nloptwrap stops early on the boundary set (REMLcrit 163.64
# with clip 1.551, residual 0.239, where bobyqa reaches 161.62 = the one-way ANOVA solution).
control <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5),
                       check.conv.singular = "ignore")
values <- list()
for (name in names(rows)) {
  d <- sets[sets$set == name, ]
  d$clip <- factor(d$clip); d$coder <- factor(d$coder); d$session <- factor(d$session)
  if (name == "gstudy") {
    fit <- lmer(value ~ 1 + (1 | session) + (1 | clip) + (1 | coder) + (1 | session:coder),
                data = d, REML = TRUE, control = control)
    names_map <- c("session" = "session", "clip" = "clip_in_session", "coder" = "coder",
                   "session:coder" = "session_x_coder", "Residual" = "residual")
  } else {
    fit <- lmer(value ~ 1 + (1 | clip) + (1 | coder), data = d, REML = TRUE, control = control)
    names_map <- c("clip" = "clip", "coder" = "coder", "Residual" = "residual")
  }
  vc <- as.data.frame(VarCorr(fit))
  values[[name]] <- rbind(
    data.frame(set = name, component = names_map[vc$grp], variance = sprintf("%.10g", vc$vcov)),
    data.frame(set = name, component = "REMLcrit", variance = sprintf("%.10g", REMLcrit(fit))))
}
out <- do.call(rbind, values)
write.csv(out, file.path(here, "lme4_values.csv"), row.names = FALSE)
print(out)
cat("lme4", as.character(packageVersion("lme4")), "R", R.version.string, "\n")
