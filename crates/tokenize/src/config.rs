//! [`TokenizerConfig`]: the `[tokenizer]` table of a TOML config such as
//! `configs/tiny.toml`. Every field has a default, unknown keys are refused, and
//! other tables (`[model]`, `[train]`, ...) are left to their own readers.

use crate::error::TokenizeError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Which recursion gives the per-bar scale sigma_t (see [`crate::VolState`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScaleKind {
    /// Plain EWMA of squared close log-returns (`ewma_lambda`): never reverts, so in
    /// a forecast rollout every large sampled return raises all later scales, and
    /// 500-bar paths explode. What every tokenizer saved before this option used.
    Ewma,
    /// The EWMA blended towards a slow long-run level of the series' own squared
    /// returns: `var' = (1 - reversion) * ewma + reversion * level`, a
    /// GARCH(1,1)-type recursion whose variance reverts; see the README's tokenizer
    /// section for the numbers behind it. The default.
    #[default]
    Reverting,
}

/// How bars are scaled and binned. The defaults give 64 x 4 x 4 = 1024 bar tokens
/// plus the two specials (1026 in all); see the crate docs for the layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenizerConfig {
    /// EWMA decay of the close log-return variance (RiskMetrics' 0.94): the scale of
    /// bar t is the EWMA over bars before t only.
    pub ewma_lambda: f64,
    /// Weight, in bars, of the prior variance when a segment starts (series start or
    /// after a gap): the variance is the running mean of squared returns shrunk
    /// towards the prior with this weight, until the EWMA weight `ewma_lambda` is
    /// reached (after about `1 / (1 - ewma_lambda) - warmup_prior_bars` returns).
    pub warmup_prior_bars: f64,
    /// The scale recursion: `"reverting"` (default) or `"ewma"` (the scale of
    /// tokenizers saved before this option; a saved tokenizer without the key
    /// loads as `"ewma"`).
    pub scale: ScaleKind,
    /// With `scale = "reverting"`: the weight k of the long-run level in every
    /// step, in (0, 1). It sets how fast the variance forgets a shock beyond the
    /// EWMA's own decay (the shock's excess decays by `(1 - k) * ewma_lambda` a bar)
    /// and how large an average squared draw a rollout survives: with the level
    /// held, the expected variance contracts for draws with `E[z^2] < 1 + k / ((1 -
    /// k)(1 - ewma_lambda))` (3.9 at the defaults), where the plain EWMA grows for
    /// any `E[z^2] > 1`. Ignored by `"ewma"`.
    pub reversion: f64,
    /// With `scale = "reverting"`: half-life in bars of the long-run level, an EWMA
    /// of the series' own squared close log-returns (a running mean, from the
    /// fitted initial variance weighted `warmup_prior_bars`, until it has that
    /// memory). Per series, so series of very different volatility each revert to
    /// their own level; long, so one extreme bar moves it little. At least 1.
    /// Ignored by `"ewma"`.
    pub long_run_halflife: f64,
    /// With `scale = "reverting"`: the largest |z| (in scale units) that a warm
    /// step lets into the variance and the long-run level; a larger return enters
    /// as `shock_cap` scales (0 = no cap). Robust-GARCH style: one bar moves the
    /// scale by a bounded factor. It is what keeps rollouts sane: a small model
    /// leaves a little probability on the tail bins, and those rare draws alone
    /// would make the mean squared draw ~4.7, which outruns the reversion. Only
    /// the scale is capped; the bar's own token still carries its full return.
    /// Ignored by `"ewma"`.
    pub shock_cap: f64,
    /// With `scale = "reverting"`: the share, in [0, 1), of each bar's range in the
    /// squared return the scale takes in: `(1 - w) r^2 + w q (ln H / L)^2`, `q`
    /// the series' own long-run ratio of squared close returns to squared log
    /// ranges. 0 (default): close returns only. The range sees the price's path
    /// inside the bar, so it measures the variance with less noise, as the
    /// `fhs-range` and `har` baselines do.
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub range_weight: f64,
    /// Close-return bins in all: one for an exact zero return, two tails outside
    /// `+-return_clip`, and `return_bins - 3` equal-frequency bins inside (with a
    /// width cap).
    pub return_bins: u32,
    /// Edge of the inner range, in scale units: |z| >= clip is a tail bar.
    pub return_clip: f64,
    /// A bin of its own for an exact zero close return (unchanged price), common in
    /// ticks-limited data (FX minutes, A-shares); when off, zeros share the first
    /// positive bin and that inner bin goes to the rest. An option for ablations.
    pub zero_return_bin: bool,
    /// Widest inner return bin near zero, in scale units: bins are equal-frequency
    /// except that none is wider than `max(return_max_width, return_max_rel_width *
    /// |inner edge|)`, so the sparse outer range gets several bins, not one.
    pub return_max_width: f64,
    /// Widest inner return bin far out, as a share of its inner edge's |z|.
    pub return_max_rel_width: f64,
    /// Bins of the wick range (high-low range minus the body, in scale units);
    /// equal-frequency, with a bin of its own for no wicks when those are common.
    pub wick_bins: u32,
    /// Bins of volume relative to its EWMA; 1 turns the factor off. It is off
    /// anyway when the training volume is all zero.
    pub volume_bins: u32,
    /// EWMA decay of the volume level the volume factor compares against.
    pub volume_lambda: f64,
    /// Calendar inputs for the model (not part of the token): time of day in half
    /// hours (intervals under a day) and day of week (under a week), in the series'
    /// zone. See the `inputs` module docs.
    #[serde(skip_serializing_if = "is_false")]
    pub calendar: bool,
    /// Bins of the relative-volume input for the model (volume over its EWMA level,
    /// equal-frequency on training bars), plus id 0 for "no volume"; 0 = off.
    #[serde(skip_serializing_if = "is_zero")]
    pub volume_input_bins: u32,
    /// Bins of each of the two volatility-regime inputs for the model (the scale's
    /// variance over its long-run level; a range-based variance over the scale's),
    /// equal-frequency on training bars; 0 = off. See the `regime` module docs.
    #[serde(skip_serializing_if = "is_zero")]
    pub regime_input_bins: u32,
    /// A bar that follows the previous one by more than `gap_multiple` times the
    /// series' interval (the lower median of its first 32 spacings) starts a new
    /// segment: a gap token goes before it and the scale warm-up restarts.
    pub gap_multiple: f64,
}

impl Default for TokenizerConfig {
    fn default() -> TokenizerConfig {
        TokenizerConfig {
            ewma_lambda: 0.94,
            warmup_prior_bars: 2.0,
            scale: ScaleKind::Reverting,
            reversion: 0.15,
            long_run_halflife: 200.0,
            shock_cap: 4.0,
            range_weight: 0.0,
            return_bins: 64,
            return_clip: 32.0,
            zero_return_bin: true,
            return_max_width: 0.5,
            return_max_rel_width: 0.25,
            wick_bins: 4,
            volume_bins: 1,
            volume_lambda: 0.94,
            calendar: false,
            volume_input_bins: 0,
            regime_input_bins: 0,
            gap_multiple: 10.0,
        }
    }
}

// Inputs that are off are left out of saved files, which then read as before.
fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Largest vocabulary a config may ask for; far above anything a GPT head wants,
/// low enough that every id fits a `u32` with room to spare.
pub const MAX_VOCAB: u64 = 1 << 20;

/// Codes of the shape factor (see [`crate::Factors::shape`]). Here rather than beside
/// the tokenizer because the config's vocabulary check needs it and the config must
/// not depend on the tokenizer it configures.
pub const SHAPE_CODES: usize = 4;

/// A config error for `field`.
fn bad(field: &'static str, value: impl ToString, reason: &'static str) -> TokenizeError {
    TokenizeError::Config {
        field,
        value: value.to_string(),
        reason,
    }
}

/// In the open interval (0, 1), the range of an EWMA decay or a blend weight.
fn unit(x: f64) -> bool {
    x.is_finite() && x > 0.0 && x < 1.0
}

/// The parts of a config file this crate reads.
#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    tokenizer: TokenizerConfig,
}

impl TokenizerConfig {
    /// The `[tokenizer]` table of a TOML document (defaults when it is absent).
    pub fn from_toml_str(text: &str) -> Result<TokenizerConfig, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| e.to_string())?;
        file.tokenizer.validate().map_err(|e| e.to_string())?;
        Ok(file.tokenizer)
    }

    /// [`TokenizerConfig::from_toml_str`] on a file; errors name the file.
    pub fn from_toml_file(path: &Path) -> Result<TokenizerConfig, TokenizeError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenizeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        TokenizerConfig::from_toml_str(&text).map_err(|message| TokenizeError::ConfigFile {
            path: path.to_path_buf(),
            message: message.trim_end().to_string(),
        })
    }

    /// Checks every field's range, and that the vocabulary is not absurdly large.
    // The sections run in field order: with several bad fields, the first one is
    // the error reported, as it always was.
    pub fn validate(&self) -> Result<(), TokenizeError> {
        self.validate_scale()?;
        self.validate_returns()?;
        self.validate_other_factors()?;
        self.validate_vocab()
    }

    /// The decays and the scale recursion.
    fn validate_scale(&self) -> Result<(), TokenizeError> {
        if !unit(self.ewma_lambda) {
            return Err(bad("ewma_lambda", self.ewma_lambda, "must be in (0, 1)"));
        }
        if !unit(self.volume_lambda) {
            return Err(bad(
                "volume_lambda",
                self.volume_lambda,
                "must be in (0, 1)",
            ));
        }
        if !(self.warmup_prior_bars.is_finite() && self.warmup_prior_bars >= 0.0) {
            return Err(bad(
                "warmup_prior_bars",
                self.warmup_prior_bars,
                "must be finite and >= 0",
            ));
        }
        if !unit(self.reversion) {
            return Err(bad("reversion", self.reversion, "must be in (0, 1)"));
        }
        if !(self.long_run_halflife.is_finite() && (1.0..=1e9).contains(&self.long_run_halflife)) {
            return Err(bad(
                "long_run_halflife",
                self.long_run_halflife,
                "must be in [1, 1e9] bars",
            ));
        }
        if !(self.shock_cap.is_finite() && self.shock_cap >= 0.0) {
            return Err(bad(
                "shock_cap",
                self.shock_cap,
                "must be finite and >= 0 (0 = no cap)",
            ));
        }
        if !(self.range_weight.is_finite() && (0.0..1.0).contains(&self.range_weight)) {
            return Err(bad("range_weight", self.range_weight, "must be in [0, 1)"));
        }
        if self.range_weight > 0.0 && self.scale == ScaleKind::Ewma {
            return Err(bad(
                "range_weight",
                self.range_weight,
                "needs scale = \"reverting\" (the plain EWMA takes close returns only)",
            ));
        }
        Ok(())
    }

    /// The close-return bins.
    fn validate_returns(&self) -> Result<(), TokenizeError> {
        if self.return_bins < 5 {
            return Err(bad(
                "return_bins",
                self.return_bins,
                "must be >= 5 (two tails, zero, and at least one bin each side)",
            ));
        }
        if !(self.return_clip.is_finite() && self.return_clip > 0.0 && self.return_clip <= 1e6) {
            return Err(bad("return_clip", self.return_clip, "must be in (0, 1e6]"));
        }
        if !(self.return_max_width.is_finite() && self.return_max_width > 0.0) {
            return Err(bad(
                "return_max_width",
                self.return_max_width,
                "must be finite and > 0",
            ));
        }
        if !(self.return_max_rel_width.is_finite() && self.return_max_rel_width >= 0.0) {
            return Err(bad(
                "return_max_rel_width",
                self.return_max_rel_width,
                "must be finite and >= 0",
            ));
        }
        Ok(())
    }

    /// The wick and volume factors, the model's volume input, and the gap rule.
    fn validate_other_factors(&self) -> Result<(), TokenizeError> {
        if self.wick_bins < 1 {
            return Err(bad("wick_bins", self.wick_bins, "must be >= 1"));
        }
        if self.volume_bins < 1 {
            return Err(bad(
                "volume_bins",
                self.volume_bins,
                "must be >= 1 (1 = off)",
            ));
        }
        if self.volume_input_bins > 1024 {
            return Err(bad(
                "volume_input_bins",
                self.volume_input_bins,
                "must be <= 1024 (0 = off)",
            ));
        }
        if self.regime_input_bins > 1024 {
            return Err(bad(
                "regime_input_bins",
                self.regime_input_bins,
                "must be <= 1024 (0 = off)",
            ));
        }
        if !(self.gap_multiple.is_finite() && self.gap_multiple >= 1.0) {
            return Err(bad(
                "gap_multiple",
                self.gap_multiple,
                "must be finite and >= 1",
            ));
        }
        Ok(())
    }

    /// Each factor may be fine alone while their product is an absurd vocabulary.
    fn validate_vocab(&self) -> Result<(), TokenizeError> {
        let vocab = u64::from(self.return_bins)
            .saturating_mul(u64::from(self.wick_bins))
            .saturating_mul(SHAPE_CODES as u64)
            .saturating_mul(u64::from(self.volume_bins));
        if vocab > MAX_VOCAB {
            return Err(bad(
                "return_bins x wick_bins x 4 x volume_bins",
                vocab,
                "vocabulary too large (at most 1048576)",
            ));
        }
        Ok(())
    }

    /// The EWMA decay of the long-run level: `0.5^(1 / long_run_halflife)`.
    pub fn long_run_lambda(&self) -> f64 {
        0.5f64.powf(1.0 / self.long_run_halflife)
    }
}
