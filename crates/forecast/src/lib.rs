/*!
Forecasts as distributions of future log-returns, the classical baselines they are
judged against, and the scores that judge them.
*/

mod baselines;
mod empirical;
mod forecaster;
mod gpt;
pub mod horizon;
pub mod html;
pub mod pool;
mod rollout;
mod score;
mod scorecard;
mod session;

pub use baselines::{
    ewma_variance, fhs, fhs_range, fhs_seasonal, fit_garch, garch, garman_klass, har, historical,
    log_returns, norm_quantile, rw_const, rw_ewma, summarise, Baseline, BaselineError, BaselineFit,
    BaselineModel, Garch, Har, History, OneStep, Predictive, Seasonal, Summary, BASELINES,
    EWMA_LAMBDA, HAR_FLOOR, SEASONAL_PASSES, SEASONAL_SHRINK,
};
pub use empirical::Empirical;
pub use forecaster::{validation_bar_at, Forecaster, GptForecaster, MIN_VALIDATION_ORIGINS};
pub use gpt::{
    calibration_logits, gpt_logits, gpt_next, gpt_one_step, thinned_for_calibration, Calibration,
    GptForecastParams, GptLogits,
};
pub use rollout::{
    check_inputs, future_timestamps, name_hash, origin_at_end, origin_at_end_keyed, origins_at,
    rollout, rollout_chunked, sample_paths, scale_after, series_key, summarise_columns,
    summarise_paths, ForecastError, ForecastParams, FutureIds, Origin, PathChunk, Paths, Stamper,
    StepSummary, MAX_BATCH_ROWS,
};
pub use score::{
    crps_atoms, crps_fair, crps_normal, crps_samples, diebold_mariano, erfc, norm_cdf, norm_pdf,
    pinball, quantile_sorted, DieboldMariano,
};
pub use scorecard::{
    aggregate, markdown, score_forecasts, score_series, score_series_against, split_index,
    validation_bar, validation_slice, verdict, Scores, SeriesCard, PIT_BINS, QUANTILES,
    TRAIN_FRACTION,
};
pub use session::{HOLIDAY_MIN_YEARS, PROBE_WEEKS, SESSION_HISTORY_WEEKS, SESSION_WINDOW_WEEKS};
