/*!
Forecasts as distributions of future log-returns, the classical baselines they are
judged against, and the scores that judge them.
*/

mod score;

pub use score::{
    crps_atoms, crps_normal, crps_samples, diebold_mariano, erfc, norm_cdf, norm_pdf, pinball,
    quantile_sorted, DieboldMariano,
};
