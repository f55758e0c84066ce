//! Command-line flags (clap), kept close to what the user typed; `InputArgs::options`
//! turns them into the library's typed options before any work starts.

use candlecast_data::{DateFormat, Interval, ReadOptions, Repair, Role};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "candlecast",
    version,
    about = "Market time-series forecasting: OHLCV bars to tokens, a small GPT, sample-path forecasts and backtests"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, validate and summarise OHLCV CSV files (rows, range, interval, gaps, problems).
    ///
    /// Exit status: 0 when every file is valid, 1 when any file has problems, 2 on usage errors.
    Inspect(InspectArgs),
    /// Fit a tokenizer on the first 80% of each series and report how it encodes them.
    ///
    /// Per file: vocabulary size, distinct tokens used, entropy of the test tokens
    /// (the last 20% of each series), the unigram baseline cross-entropy of the test
    /// tokens under the training frequencies, and how well representative decoding
    /// gives the close return back.
    Tokenize(TokenizeArgs),
    /// Pretrain the GPT on many series, fine-tune it (`--init`), or resume a run.
    ///
    /// Writes RUN/model.safetensors, RUN/optimizer.safetensors, RUN/meta.json
    /// (configs, tokenizer, training state, data fingerprints) and RUN/curve.csv.
    Train(TrainArgs),
    /// Generate synthetic OHLCV series for pretraining: one CSV per series
    /// (DIR/syn-00000.csv, ...) and DIR/params.json with the parameters each was
    /// drawn with. The same seed gives the same files on every machine.
    ///
    /// The family (README, "Synthetic data"): GJR-GARCH, EGARCH or stochastic
    /// volatility with leverage, Student-t tails, jumps, volatility regimes, intraday
    /// and weekday profiles on crypto/FX/equity/A-share hours, overnight gaps, price
    /// ticks and volume that moves with volatility. `train` can use the same corpus
    /// without files: a `[synthetic]` table in its config.
    Synth(SynthArgs),
    /// Score one-step forecasts of the model in RUN (if given) and of the classical
    /// baselines on the last 20% of every series: DIR/scorecard.{json,md} and
    /// DIR/calibration.csv (PIT histograms).
    Evaluate(EvaluateArgs),
    /// Forecast the next bars of every input series as sample paths from the model
    /// in RUN: per step the mean, quantiles and P(close up) of the close.
    Forecast(ForecastArgs),
    /// The whole pipeline on the bundled data (built into the binary): start from
    /// the shipped base model (or pretrain, --from-scratch), fine-tune on the S&P 500,
    /// forecast, evaluate, backtest, and DIR/index.html with the headline results
    /// (scorecard summary and verdicts, backtest table and equity chart) and links.
    Demo(DemoArgs),
    /// Replay history with a strategy and write a report folder.
    ///
    /// At each bar's close the strategy sees the bars up to that close only; its
    /// orders fill at the next bar's open (exclusive orders: the open trade closes
    /// first; vol-target resizes by trading the difference). Writes DIR/stats.json,
    /// trades.csv, forecasts.csv (model strategies), report.html, equity.svg (its
    /// equity chart) and, with --equity-csv, the per-bar equity.csv, and prints the
    /// statistics beside buy-and-hold and sma-cross:10,20 on the same window, with
    /// each strategy's Sharpe ratio against buy-and-hold's (a block bootstrap
    /// interval and a verdict).
    ///
    /// Strategies: buy-hold, sma-cross:FAST,SLOW, and with --model (or the base model):
    ///
    /// forecast[:horizon=5,samples=100,margin=2,cap=1]: from the paths' log-returns
    /// over `horizon` bars (mean E, variance V, SE = sqrt(V/samples)) and the round
    /// trip c (2 x commission + spread + 2 x slippage): long when E - c > margin x SE,
    /// short when -E - c > margin x SE, sized min(|E|/V, cap); a position is closed
    /// when holding it is expected to lose more than the exit (-E > c/2 for a long),
    /// otherwise kept.
    ///
    /// forecast-threshold[:horizon=5,samples=100,threshold=0.55,cap=1,sizing=kelly|fixed]:
    /// the first rule: long when P(close up after `horizon` bars) > threshold, short
    /// when below 1 - threshold, flat otherwise; sized by E/V (kelly) or `cap`; costs
    /// not considered; the position changes only when the side does.
    ///
    /// vol-target[:target=0.1,cap=1,band=0.2,horizon=5,samples=100]: long
    /// min(cap, target / sigma_annual), sigma the model's forecast volatility per bar
    /// (H > 1: the sd of the paths' H-bar log-return / sqrt(H); horizon 1: the exact
    /// one-step mixture) times sqrt(bars per year of the history); rebalanced
    /// only when the wanted exposure differs from the held one by more than
    /// band x the held one.
    ///
    /// --refit-every N (model strategies) fine-tunes the model during the backtest,
    /// walk-forward: at the window's bar N, 2N, ... (at the first decision from there
    /// with --decide-every) it trains --refit-steps steps from the current weights on
    /// the bars up to that bar's close only, with the model folder's training config,
    /// before deciding there. The schedule is in stats.json (`refits`) and report.html.
    Backtest(BacktestArgs),
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// A CSV file (a panel needs --symbol).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// The series of a multi-symbol file to backtest.
    #[arg(long)]
    pub symbol: Option<String>,
    /// A run written by `candlecast train`, for the model strategies; `base` or
    /// left out: the shipped base model (models/base/README.md).
    #[arg(long, value_name = "RUN")]
    pub model: Option<PathBuf>,
    /// buy-hold, sma-cross:FAST,SLOW, forecast[:options], forecast-threshold[:options]
    /// or vol-target[:options] (see above).
    #[arg(long, value_name = "SPEC")]
    pub strategy: String,
    /// Starting cash.
    #[arg(long, default_value_t = 10_000.0, allow_negative_numbers = true)]
    pub cash: f64,
    /// Commission as a fraction of traded value, charged on entry and exit (0.002 = 0.2%).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub commission: f64,
    /// Full bid-ask spread, half paid on each fill: basis points (`5bps`) or price units (`0.01`).
    #[arg(long, value_name = "COST")]
    pub spread: Option<candlecast_backtest::Cost>,
    /// Extra adverse price move per fill: basis points (`2bps`) or price units.
    #[arg(long, value_name = "COST")]
    pub slippage: Option<candlecast_backtest::Cost>,
    /// Trade fractional units instead of whole ones.
    #[arg(long)]
    pub fractional: bool,
    /// Close the open trade on the last bar (at its open, as backtesting.py does) so
    /// it counts in the trade statistics.
    #[arg(long)]
    pub finalize: bool,
    /// Never go short: short signals mean flat.
    #[arg(long)]
    pub long_only: bool,
    /// Decide only every N bars (the forecast strategy's cost is per decision).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub decide_every: u64,
    /// Walk-forward refits (model strategies only): every N bars of the window,
    /// fine-tune the model on the bars up to then (never a later one) before deciding.
    /// 0: never (the model as given decides throughout).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub refit_every: u64,
    /// Optimiser steps per refit, with the model's own training config (optimiser,
    /// learning rate, batch size, window length, frozen blocks) and seed
    /// derived from --seed and the refit's number. Each refit costs about as much as
    /// that many steps of `candlecast train`. The default is small on purpose: 20
    /// steps of 32 windows already pass over a daily series' ~5k tokens four times;
    /// with 100 the refitted model memorises its history.
    #[arg(long, value_name = "S", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub refit_steps: u64,
    /// First bar of the backtest window (RFC 3339 or YYYY-MM-DD); earlier bars are
    /// history the strategy may look at. For a model, the default is the first bar
    /// after the part of this file it was trained on, when the run records it.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Last bar of the window (RFC 3339, or YYYY-MM-DD for the whole day); later bars are ignored.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Strategies to run beside it on the same window (default: buy-hold and
    /// sma-cross:10,20). Model strategies (vol-target, forecast, forecast-threshold)
    /// use the same model, seed and --decide-every; rule strategies decide every bar.
    #[arg(long, value_name = "SPEC", num_args = 1.., conflicts_with = "no_compare")]
    pub compare: Vec<String>,
    /// Run the strategy alone.
    #[arg(long)]
    pub no_compare: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// The report folder to write; an existing one is refused unless it holds an
    /// earlier report (a stats.json) and --force is given: then it is replaced whole.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace an earlier report in --out. A folder holding anything else is refused
    /// even then (replacing it whole would delete its files), as is one that holds
    /// the input or the model.
    #[arg(long)]
    pub force: bool,
    /// Print the statistics as JSON (stats.json) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write equity.csv: per bar, the close, equity, drawdown, buy-and-hold
    /// and the comparison strategies' equity. Off by default: on 1M bars it is a
    /// 113 MB file and about half of the command's time.
    #[arg(long)]
    pub equity_csv: bool,
    /// Draw the price in report.html as candlesticks instead of a close line
    /// (merged into at most 250 candles on long windows; the caption says how many bars each holds).
    #[arg(long)]
    pub candles: bool,
    #[command(flatten)]
    pub read: InputArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where everything is written.
    #[arg(long, value_name = "DIR", default_value = "out/demo")]
    pub out: PathBuf,
    /// A cut-down run of every stage (seconds, not minutes): a smoke test.
    #[arg(long)]
    pub quick: bool,
    /// Pretrain on the bundled series first (the whole pipeline) instead of starting
    /// from the shipped base model.
    #[arg(long)]
    pub from_scratch: bool,
    /// Write into a non-empty --out (files of the same name are replaced).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// A run written by `candlecast train`; `base` or left out: the shipped base
    /// model (models/base/README.md).
    #[arg(long, value_name = "RUN")]
    pub model: Option<PathBuf>,
    /// CSV files or directories of them (every series of every file).
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Bars to forecast.
    #[arg(long, alias = "prediction-length")]
    pub horizon: usize,
    /// Sample paths per series.
    #[arg(long, alias = "num-samples", default_value_t = 100)]
    pub samples: usize,
    /// Quantile levels of the close to report.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.5,0.9")]
    pub quantiles: Vec<f64>,
    /// Also write every path (CSV: next to --out as .paths.csv; JSON: inline).
    #[arg(long)]
    pub paths: bool,
    /// Forecast from this time instead of the last bar (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub origin: Option<String>,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Forecast only the I-th of N equal, contiguous parts of the input files (in the
    /// order given, directories expanded and sorted), e.g. `--shard 2/8` in the
    /// second task of an array job. The shards' rows, concatenated in order under
    /// one header, are exactly the unsharded output (deploy/merge-shards.sh).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Output file, .csv (long format) or .json, with its run header beside it
    /// (F.run.json: model fingerprint, inputs, seed, horizon, samples, shard; what
    /// deploy/merge-shards.sh checks); left out: CSV on standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite an existing --out file (and its F.paths.csv and F.run.json). Never
    /// lets the output replace an input or go into the model folder.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub read: InputArgs,
}

/// How the model's sample paths are drawn; shared by `forecast` and `backtest`.
#[derive(Debug, Args, Clone, Default)]
pub struct SamplingArgs {
    /// Tokens of context for the model (default: its max_ctx).
    #[arg(long)]
    pub context: Option<usize>,
    /// Sampling temperature (0 = greedy); default: the temperature the model was
    /// calibrated to (the base model's, see models/base/README.md), else 1.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Keep only the k most likely tokens.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Keep only the most likely tokens up to this probability.
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Seed of the sample paths: the same seed gives the same output.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl SamplingArgs {
    /// The sampling options, with `calibrated` (the run's temperature, 1 when it
    /// records none) where `--temperature` is not given.
    pub fn sampling(&self, calibrated: f64) -> candlecast_gpt::Sampling {
        candlecast_gpt::Sampling {
            temperature: self.temperature.unwrap_or(calibrated),
            top_k: self.top_k,
            top_p: self.top_p,
        }
    }

    /// `--context`, or the model's whole context.
    pub fn context(&self, max_ctx: usize) -> usize {
        self.context.unwrap_or(max_ctx)
    }
}

/// `--shard I/N`: part I (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("'{s}' is not I/N with 1 <= I <= N (e.g. 3/8)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// `--calibration-bars`: the bars at the end of each series' training part on
/// which `gpt-cal` is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalibrationBars {
    /// The whole training part (every bar after the first).
    All,
    /// Its last `n` bars (all of it where it is shorter).
    Last(usize),
}

impl std::str::FromStr for CalibrationBars {
    type Err = String;

    fn from_str(s: &str) -> Result<CalibrationBars, String> {
        match s.trim() {
            "all" => Ok(CalibrationBars::All),
            n => match n.parse::<usize>() {
                Ok(n) if n > 0 => Ok(CalibrationBars::Last(n)),
                _ => Err(format!(
                    "'{s}' is neither a positive number of bars nor 'all'"
                )),
            },
        }
    }
}

impl std::fmt::Display for CalibrationBars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CalibrationBars::All => f.write_str("all"),
            CalibrationBars::Last(n) => write!(f, "{n}"),
        }
    }
}

impl CalibrationBars {
    /// The first bar of the calibration slice of a training part of `split` bars;
    /// `None` is the default, its last 10% (the validation slice).
    pub fn start(this: Option<CalibrationBars>, split: usize) -> usize {
        match this {
            None => split - split / 10,
            Some(CalibrationBars::All) => 1.min(split),
            Some(CalibrationBars::Last(n)) => split.saturating_sub(n).max(1.min(split)),
        }
    }
}

impl Shard {
    /// This shard's contiguous part of `items`: sizes differ by at most one.
    pub fn take<T: Clone>(&self, items: &[T]) -> Vec<T> {
        let n = items.len();
        let lo = (self.index - 1) * n / self.count;
        let hi = self.index * n / self.count;
        items[lo..hi].to_vec()
    }
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// A run written by `candlecast train`; `base` or left out: the shipped base
    /// model (models/base/README.md).
    #[arg(long, value_name = "RUN", conflicts_with = "no_model")]
    pub model: Option<PathBuf>,
    /// Score the classical baselines only.
    #[arg(long)]
    pub no_model: bool,
    /// CSV files (every series of every file).
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Write into a --out folder that is not empty: the four files are replaced,
    /// nothing else. Never lets them replace an input or go into the model folder.
    #[arg(long)]
    pub force: bool,
    /// Tokens of context for the model (default: its max_ctx).
    #[arg(long)]
    pub context: Option<usize>,
    /// Divide the model's logits by this (above 1 widens its forecasts); default: the
    /// temperature the model was calibrated to (the base model's), else 1.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Keep only the most likely tokens up to this probability, for the model's
    /// one-step mixture and its sampled paths alike (default: all tokens).
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Skip `gpt-cal`: the model with a temperature, top-p and spread (and with
    /// --horizon, the spread's growth along paths) chosen by CRPS on the last 10%
    /// of each series' training part (see --calibration-bars), the spread then
    /// moved where the 80% coverage there is outside 0.77-0.83; and `gpt-pool`,
    /// the model mixed with the bar by a weight fitted on the same slice.
    #[arg(long)]
    pub no_calibration: bool,
    /// `gpt-cal` fits temperature and top-p only (spread 1, no growth, no
    /// coverage step): how the base model's shipped temperature is fitted
    /// (`bench/base_model.sh`).
    #[arg(long, conflicts_with = "no_calibration")]
    pub no_spread: bool,
    /// Fit `gpt-cal` on the last N bars of each training part, or on all of it
    /// (`all`), instead of its last 10%. The default keeps to bars a model
    /// fine-tuned on the series has not trained on (its validation slice); a model
    /// that never saw the series (the base model, zero-shot) has seen none of the
    /// training part, and a longer slice spans more than the latest regime. No
    /// test bar is read either way.
    #[arg(long, value_name = "N|all", conflicts_with = "no_calibration")]
    pub calibration_bars: Option<CalibrationBars>,
    /// Also score the cumulative return 2..=H bars ahead (sampled CRPS for the
    /// model and the empirical baselines).
    #[arg(long, default_value_t = 1, alias = "prediction-length")]
    pub horizon: usize,
    /// Sample paths per origin for the multi-step scores.
    #[arg(long, default_value_t = 100, alias = "num-samples")]
    pub samples: usize,
    /// Multi-step origins: every N-th test bar (default: spaced so that a series has
    /// at most --max-origins). One-step scores always use every test bar.
    #[arg(long, conflicts_with = "max_origins")]
    pub origins_every: Option<usize>,
    /// Multi-step origins per series at most, evenly spaced over the test part
    /// (when --origins-every is not given).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_origins: u64,
    /// Seed of the sampled multi-step forecasts.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub read: InputArgs,
    /// Print the scorecard as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML config with [tokenizer], [model], [train] and (for --init) [finetune]
    /// tables, e.g. configs/tiny.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// CSV files or directories of them to learn from (every series of every
    /// file); may be left out when the config's [synthetic] table gives the data.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// The run folder to write.
    #[arg(long, value_name = "RUN")]
    pub out: PathBuf,
    /// Start a new run in a --out that is not empty: the run's files there are
    /// replaced (--resume, which continues the run in --out, needs none). Never lets
    /// --out be --init's folder or replace a --data or --config file.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Fine-tune: start from this run's weights and tokenizer (`base`: the shipped
    /// base model), with the config's [finetune] schedule.
    #[arg(long, value_name = "RUN", conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Continue the interrupted run in --out from its last checkpoint, bit for bit.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub input: InputArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// The folder to write (created; a folder that is not empty needs --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Write into a non-empty --out: files of the same names are replaced, others
    /// (say of a larger earlier corpus) stay.
    #[arg(long)]
    pub force: bool,
    /// Number of series.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub series: u64,
    /// Bars per series (at least 64).
    #[arg(long)]
    pub bars: usize,
    /// Seed of the corpus.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct TokenizeArgs {
    /// TOML config whose `[tokenizer]` table is used; without it, the built-in
    /// defaults (the values in configs/tiny.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// CSV files: single series, or long-format panels with a symbol column (the
    /// series of a panel share one tokenizer).
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    #[command(flatten)]
    pub read: InputArgs,
    /// Share of each series (its first bars) the tokenizer is fitted on; the rest is
    /// the test part the report is measured on.
    #[arg(long, default_value_t = 0.8, value_parser = parse_fraction)]
    pub train_fraction: f64,
    /// Print one JSON object per file instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// CSV or JSON candle files (also gzip/zstd-compressed), or directories of them:
    /// single series, or long-format panels with a symbol column.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Print one JSON object per file instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// How input files are read; shared by every command that reads price history.
#[derive(Debug, Args, Clone, Default)]
pub struct InputArgs {
    /// Field delimiter (`,` `;` `tab` `|`); sniffed when not given.
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Column roles in file order, for files without a header, e.g.
    /// `timestamp,open,close,high,low,volume` (use `skip` for columns to ignore).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<Role>>,
    /// `dmy` or `mdy` for D/M/YYYY-style dates the data cannot settle, or a chrono
    /// strftime pattern such as `%Y-%m-%d %I-%p` (every field is read or the pattern
    /// is refused; `%Z` zone names are refused: use --tz).
    #[arg(long)]
    pub date_format: Option<DateFormat>,
    /// Time zone of naive timestamps, e.g. `America/New_York`; naive times are
    /// read as UTC when not given.
    #[arg(long)]
    pub tz: Option<chrono_tz::Tz>,
    /// Fix what is safe to fix and report every row touched (file, line), any of:
    /// `sort` (rows out of time order), `dedupe` (exact copies), `keep-last` (rows at
    /// the same time with other values: the later in the file stays), `ohlc` (widen
    /// high/low to contain open and close), joined by commas.
    #[arg(long)]
    pub repair: Option<Repair>,
    /// Aggregate to a coarser interval (`5m`, `1h`, `1d`): buckets aligned to UTC,
    /// labelled by their start, empty buckets skipped.
    #[arg(long)]
    pub resample: Option<Interval>,
}

impl InputArgs {
    pub fn options(&self) -> ReadOptions {
        ReadOptions {
            delimiter: self.delimiter,
            columns: self.columns.clone(),
            date_format: self.date_format.clone(),
            tz: self.tz,
            repair: self.repair.unwrap_or_default(),
            ..ReadOptions::default()
        }
    }
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
        _ => Err(format!("'{s}' is not a fraction strictly between 0 and 1")),
    }
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() && s != "\"" && s != "\n" => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "'{s}' is not a delimiter: give one character such as , ; | or the word tab"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn calibration_bars_parse_and_place_the_slice() {
        use super::CalibrationBars::{self, All, Last};
        assert_eq!("all".parse::<CalibrationBars>(), Ok(All));
        assert_eq!("500".parse::<CalibrationBars>(), Ok(Last(500)));
        assert!("0".parse::<CalibrationBars>().is_err());
        assert!("ten".parse::<CalibrationBars>().is_err());
        // 1000 training bars: the default slice is its last 100.
        assert_eq!(CalibrationBars::start(None, 1000), 900);
        assert_eq!(CalibrationBars::start(Some(All), 1000), 1);
        assert_eq!(CalibrationBars::start(Some(Last(250)), 1000), 750);
        assert_eq!(CalibrationBars::start(Some(Last(5000)), 1000), 1);
    }

    #[test]
    fn shards_cover_the_inputs_once_in_order() {
        let items: Vec<usize> = (0..11).collect();
        for count in 1..=13 {
            let mut all = Vec::new();
            for index in 1..=count {
                let s: Shard = format!("{index}/{count}")
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}"));
                all.extend(s.take(&items));
            }
            assert_eq!(all, items, "N = {count}");
        }
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
