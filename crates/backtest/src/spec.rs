//! Strategy specs as typed on the command line (`buy-hold`, `sma-cross:10,20`,
//! `forecast:horizon=5,margin=2`, `forecast-threshold:threshold=0.6`,
//! `vol-target:target=0.1`), parsed into typed configs up front so a typo fails
//! before any data is read.

use crate::error::BacktestError;
use crate::strategy::{rule, Strategy, RULES};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Which strategy to run, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum StrategySpec {
    /// Buy with all cash at the first decision and hold.
    BuyHold,
    /// A strategy of [`RULES`] (`sma-cross:10,20`), checked when parsed.
    Rule(RuleSpec),
    /// Trade on the model's sample paths (`forecast`, `forecast-threshold`).
    Forecast(ForecastRule),
    /// Long-only exposure sized by the model's forecast volatility (`vol-target`).
    VolTarget(VolTargetRule),
}

/// A rule strategy as parsed: which one, the text after its colon, and the
/// strategy's own name for itself (`sma-cross:10,20`), which is how it prints
/// and compares (`sma-cross:10, 20` equals `sma-cross:10,20`).
#[derive(Debug, Clone, Serialize)]
pub struct RuleSpec {
    pub rule: &'static str,
    #[serde(skip)]
    args: Option<String>,
    pub name: String,
}

impl PartialEq for RuleSpec {
    fn eq(&self, other: &RuleSpec) -> bool {
        (self.rule, &self.name) == (other.rule, &other.name)
    }
}

impl RuleSpec {
    /// A fresh strategy, as the spec was checked to give.
    pub fn strategy(&self) -> Result<Box<dyn Strategy>, BacktestError> {
        let err = |message| BacktestError::Spec {
            spec: self.name.clone(),
            message,
        };
        let r = rule(self.rule).ok_or_else(|| err(format!("unknown strategy '{}'", self.rule)))?;
        (r.build)(self.args.as_deref()).map_err(err)
    }
}

/// How the forecast strategy turns sample paths into a position. `E` and `V`
/// are the mean and variance of the paths' log-return over the horizon, `n`
/// the number of paths.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ForecastRule {
    /// Bars ahead the decision looks (the paths' length).
    pub horizon: usize,
    /// Sample paths per decision.
    pub samples: usize,
    /// The largest fraction of equity a position may take, in (0, 1].
    pub cap: f64,
    pub trigger: Trigger,
}

/// When the forecast strategy trades.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Trigger {
    /// `forecast`: act only when the expected gain beats the cost by more than
    /// the forecast's own sampling noise. With `c` the round-trip cost as a
    /// fraction of the price (two commissions, the full spread, two slippages)
    /// and `SE = sqrt(V / n)`: long when `E - c > margin * SE`, short when
    /// `-E - c > margin * SE` (shorts allowed), sized `min(|E| / V, cap)` (the
    /// Kelly fraction); a position is closed when holding it is expected to lose
    /// more than the exit costs (`-E > c/2` for a long), and otherwise kept.
    Edge { margin: f64 },
    /// `forecast-threshold`, the first rule: long when `P(up)` (the share of
    /// paths ending above the close now) exceeds `threshold`, short below
    /// `1 - threshold`, flat otherwise; costs are not considered.
    Threshold { threshold: f64, sizing: Sizing },
}

impl ForecastRule {
    /// `forecast`'s defaults: 100 paths 5 bars ahead, a margin of 2 standard
    /// errors (the sampling noise of E alone exceeds it about 2% of the time).
    pub fn edge() -> ForecastRule {
        ForecastRule {
            horizon: 5,
            samples: 100,
            cap: 1.0,
            trigger: Trigger::Edge { margin: 2.0 },
        }
    }

    /// `forecast-threshold`'s defaults, those of the first forecast rule.
    pub fn threshold() -> ForecastRule {
        ForecastRule {
            horizon: 5,
            samples: 100,
            cap: 1.0,
            trigger: Trigger::Threshold {
                threshold: 0.55,
                sizing: Sizing::Kelly,
            },
        }
    }
}

/// Position size once the direction is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sizing {
    /// `|mean| / variance` of the paths' log-returns over the horizon (the Kelly
    /// fraction for a log-normal bet), capped at `cap`: bigger when the forecast
    /// is confident, none when its mean disagrees with the direction.
    Kelly,
    /// Always `cap`.
    Fixed,
}

impl fmt::Display for Sizing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sizing::Kelly => "kelly",
            Sizing::Fixed => "fixed",
        })
    }
}

/// `vol-target`: hold `min(cap, target / sigma)` of the equity long, where
/// `sigma` is the model's forecast volatility of the next bars, annualised
/// with the bars per year of the history; rebalance only when that wanted
/// exposure differs from the held one by more than `band` times the held one.
/// Volatility is what the forecasts are good at (the scorecard), and trading
/// only on band crossings keeps the costs of following it small.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VolTargetRule {
    /// Annualised volatility aimed at, e.g. 0.1 for 10%.
    pub target: f64,
    /// The largest exposure, in (0, 1] (no leverage).
    pub cap: f64,
    /// Relative change of the wanted exposure that triggers a rebalance.
    pub band: f64,
    /// H > 1 (default 5): sigma is the standard deviation of `samples` paths'
    /// H-bar log-return over `sqrt(H)`, the mean volatility of the next H bars:
    /// an exposure is held for several bars between band crossings (about 10
    /// on the S&P 500), so that is the risk it carries, and the average is
    /// steadier than one bar's (fewer crossings, smaller costs; it also evens
    /// out an intraday profile). 1: the standard deviation of the model's exact
    /// one-step predictive mixture (one forward pass, no sampling noise), for
    /// a volatility that changes from one bar to the next (a strong intraday or
    /// weekday profile) and is worth its more frequent rebalancing.
    pub horizon: usize,
    /// Paths per decision when `horizon > 1`.
    pub samples: usize,
}

impl Default for VolTargetRule {
    fn default() -> Self {
        VolTargetRule {
            target: 0.1,
            cap: 1.0,
            band: 0.2,
            horizon: 5,
            samples: 100,
        }
    }
}

/// The forms `--strategy` takes, the rules of [`RULES`] after buy-hold.
fn help() -> String {
    let rules: String = RULES.iter().map(|r| format!("{}, ", r.usage)).collect();
    format!(
        "expected buy-hold, {rules}forecast[:horizon=H,samples=S,margin=K,cap=F], \
         forecast-threshold[:horizon=H,samples=S,threshold=P,cap=F,sizing=kelly|fixed] or \
         vol-target[:target=V,cap=F,band=B,horizon=H,samples=S]"
    )
}

/// `key=value` pairs of a spec's options, each handed to `set`.
fn options(
    args: Option<&str>,
    mut set: impl FnMut(&str, &str) -> Result<(), String>,
) -> Result<(), String> {
    for kv in args
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
    {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(format!("'{kv}' is not key=value"));
        };
        set(k.trim(), v.trim())?;
    }
    Ok(())
}

/// Parses `v` as a `T` that `ok` accepts, or says `what`.
fn value<T: FromStr>(k: &str, v: &str, ok: impl Fn(&T) -> bool, what: &str) -> Result<T, String> {
    v.parse::<T>()
        .ok()
        .filter(ok)
        .ok_or_else(|| format!("{k}={v}: {what}"))
}

fn forecast_rule(mut r: ForecastRule, args: Option<&str>) -> Result<ForecastRule, String> {
    let threshold_rule = matches!(r.trigger, Trigger::Threshold { .. });
    options(args, |k, v| {
        match (k, &mut r.trigger) {
            ("horizon" | "h", _) => {
                r.horizon = value(k, v, |&n| n >= 1, "horizon must be a whole number >= 1")?
            }
            ("samples" | "s", _) => {
                r.samples = value(k, v, |&n| n >= 2, "samples must be a whole number >= 2")?
            }
            ("cap", _) => {
                r.cap = value(
                    k,
                    v,
                    |&x: &f64| x > 0.0 && x <= 1.0,
                    "cap is a fraction of equity in (0, 1]",
                )?
            }
            ("margin" | "k", Trigger::Edge { margin }) => {
                *margin = value(
                    k,
                    v,
                    |&x: &f64| x >= 0.0 && x.is_finite(),
                    "margin is a number of standard errors >= 0",
                )?
            }
            ("threshold" | "p", Trigger::Threshold { threshold, .. }) => {
                *threshold = value(
                    k,
                    v,
                    |&x: &f64| (0.5..1.0).contains(&x),
                    "threshold is a probability in [0.5, 1)",
                )?
            }
            ("sizing", Trigger::Threshold { sizing, .. }) => {
                *sizing = match v {
                    "kelly" => Sizing::Kelly,
                    "fixed" => Sizing::Fixed,
                    _ => return Err(format!("{k}={v}: sizing is kelly or fixed")),
                }
            }
            ("threshold" | "p" | "sizing", Trigger::Edge { .. }) => {
                return Err(format!(
                    "'{k}' belongs to forecast-threshold, the P(up) rule; forecast is \
                     the cost-aware rule (options: horizon, samples, margin, cap)"
                ))
            }
            _ if threshold_rule => {
                return Err(format!(
                    "unknown option '{k}' (options: horizon, samples, threshold, cap, sizing)"
                ))
            }
            _ => {
                return Err(format!(
                    "unknown option '{k}' (options: horizon, samples, margin, cap)"
                ))
            }
        }
        Ok(())
    })?;
    Ok(r)
}

fn vol_target_rule(args: Option<&str>) -> Result<VolTargetRule, String> {
    let mut r = VolTargetRule::default();
    options(args, |k, v| {
        match k {
            "target" => {
                r.target = value(
                    k,
                    v,
                    |&x: &f64| x > 0.0 && x.is_finite(),
                    "target is an annualised volatility > 0 (0.1 = 10%)",
                )?
            }
            "cap" => {
                r.cap = value(
                    k,
                    v,
                    |&x: &f64| x > 0.0 && x <= 1.0,
                    "cap is a fraction of equity in (0, 1] (no leverage)",
                )?
            }
            "band" => {
                r.band = value(
                    k,
                    v,
                    |&x: &f64| (0.0..10.0).contains(&x),
                    "band is a relative change of exposure in [0, 10)",
                )?
            }
            "horizon" | "h" => {
                r.horizon = value(k, v, |&n| n >= 1, "horizon must be a whole number >= 1")?
            }
            "samples" | "s" => {
                r.samples = value(k, v, |&n| n >= 2, "samples must be a whole number >= 2")?
            }
            _ => {
                return Err(format!(
                    "unknown option '{k}' (options: target, cap, band, horizon, samples)"
                ))
            }
        }
        Ok(())
    })?;
    Ok(r)
}

impl FromStr for StrategySpec {
    type Err = BacktestError;

    fn from_str(s: &str) -> Result<StrategySpec, BacktestError> {
        let err = |message: String| BacktestError::Spec {
            spec: s.to_string(),
            message,
        };
        let (name, args) = match s.trim().split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (s.trim(), None),
        };
        match name.to_ascii_lowercase().as_str() {
            "buy-hold" | "buyhold" | "buy-and-hold" => match args {
                None | Some("") => Ok(StrategySpec::BuyHold),
                Some(a) => Err(err(format!("buy-hold takes no parameters, got '{a}'"))),
            },
            "forecast" => Ok(StrategySpec::Forecast(
                forecast_rule(ForecastRule::edge(), args).map_err(err)?,
            )),
            "forecast-threshold" => Ok(StrategySpec::Forecast(
                forecast_rule(ForecastRule::threshold(), args).map_err(err)?,
            )),
            "vol-target" | "voltarget" => {
                Ok(StrategySpec::VolTarget(vol_target_rule(args).map_err(err)?))
            }
            _ => match rule(name) {
                Some(r) => {
                    let args = args.map(str::to_string);
                    let name = (r.build)(args.as_deref()).map_err(err)?.name();
                    Ok(StrategySpec::Rule(RuleSpec {
                        rule: r.name,
                        args,
                        name,
                    }))
                }
                None => Err(err(format!("unknown strategy '{name}': {}", help()))),
            },
        }
    }
}

impl fmt::Display for StrategySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrategySpec::BuyHold => f.write_str("buy-hold"),
            StrategySpec::Rule(r) => f.write_str(&r.name),
            StrategySpec::Forecast(r) => match r.trigger {
                Trigger::Edge { margin } => write!(
                    f,
                    "forecast:horizon={},samples={},margin={margin},cap={}",
                    r.horizon, r.samples, r.cap
                ),
                Trigger::Threshold { threshold, sizing } => write!(
                    f,
                    "forecast-threshold:horizon={},samples={},threshold={threshold},cap={},sizing={sizing}",
                    r.horizon, r.samples, r.cap
                ),
            },
            StrategySpec::VolTarget(r) => write!(
                f,
                "vol-target:target={},cap={},band={},horizon={},samples={}",
                r.target, r.cap, r.band, r.horizon, r.samples
            ),
        }
    }
}

impl StrategySpec {
    /// Whether the strategy needs a model run.
    pub fn needs_model(&self) -> bool {
        matches!(self, StrategySpec::Forecast(_) | StrategySpec::VolTarget(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<StrategySpec, String> {
        s.parse::<StrategySpec>().map_err(|e| e.to_string())
    }

    #[test]
    fn specs_parse_and_print_back() {
        assert_eq!(parse("buy-hold"), Ok(StrategySpec::BuyHold));
        let s = parse("sma-cross: 10 , 20").unwrap();
        assert!(matches!(&s, StrategySpec::Rule(r) if r.rule == "sma-cross"));
        assert_eq!(s.to_string(), "sma-cross:10,20");
        assert_eq!(parse("SmaCross:10,20"), Ok(s.clone()));
        assert_eq!(parse(&s.to_string()), Ok(s));
        let f = parse("forecast-threshold:horizon=3,samples=50,threshold=0.6,cap=0.5,sizing=fixed")
            .unwrap();
        assert_eq!(parse(&f.to_string()), Ok(f.clone()));
        assert_eq!(
            f,
            StrategySpec::Forecast(ForecastRule {
                horizon: 3,
                samples: 50,
                cap: 0.5,
                trigger: Trigger::Threshold {
                    threshold: 0.6,
                    sizing: Sizing::Fixed
                }
            })
        );
        assert_eq!(
            parse("forecast"),
            Ok(StrategySpec::Forecast(ForecastRule::edge()))
        );
        let f = parse("forecast:h=1,margin=0.5").unwrap();
        assert_eq!(parse(&f.to_string()), Ok(f.clone()));
        assert_eq!(
            f,
            StrategySpec::Forecast(ForecastRule {
                horizon: 1,
                trigger: Trigger::Edge { margin: 0.5 },
                ..ForecastRule::edge()
            })
        );
        let v = parse("vol-target:target=0.15,band=0.1,horizon=24,samples=64").unwrap();
        assert_eq!(parse(&v.to_string()), Ok(v.clone()));
        assert_eq!(
            v,
            StrategySpec::VolTarget(VolTargetRule {
                target: 0.15,
                band: 0.1,
                horizon: 24,
                samples: 64,
                ..VolTargetRule::default()
            })
        );
        assert_eq!(
            parse("vol-target"),
            Ok(StrategySpec::VolTarget(VolTargetRule::default()))
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        assert_eq!(
            parse("sma-cross:20,10").unwrap_err(),
            "strategy 'sma-cross:20,10': FAST (20) must be shorter than SLOW (10)"
        );
        assert!(parse("sma-cross:10,10")
            .unwrap_err()
            .contains("must be shorter"));
        assert!(parse("momentum")
            .unwrap_err()
            .contains("unknown strategy 'momentum'"));
        assert!(parse("sma-cross:10").unwrap_err().contains("two lengths"));
        assert!(parse("sma-cross:0,5")
            .unwrap_err()
            .contains("'0' is not a length"));
        assert!(parse("forecast:cap=2")
            .unwrap_err()
            .contains("cap is a fraction"));
        assert!(parse("forecast:colour=red")
            .unwrap_err()
            .contains("unknown option 'colour'"));
        assert!(parse("buy-hold:3").unwrap_err().contains("no parameters"));
        assert!(parse("forecast:threshold=0.6")
            .unwrap_err()
            .contains("belongs to forecast-threshold"));
        assert!(parse("forecast-threshold:margin=2")
            .unwrap_err()
            .contains("unknown option 'margin'"));
        assert!(parse("vol-target:cap=1.5")
            .unwrap_err()
            .contains("no leverage"));
        assert!(parse("vol-target:target=0")
            .unwrap_err()
            .contains("target is an annualised volatility"));
    }
}
