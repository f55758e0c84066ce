//! Strategy specs as typed on the command line (`buy-hold`, `sma-cross:10,20`,
//! `forecast:horizon=5,threshold=0.6`), parsed into typed configs up front so a
//! typo fails before any data is read.

use crate::error::BacktestError;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Which strategy to run, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum StrategySpec {
    /// Buy with all cash at the first decision and hold.
    BuyHold,
    /// Long when the fast SMA of closes crosses above the slow one, short (or flat
    /// when shorts are off) when it crosses below: backtesting.py's `SmaCross`.
    SmaCross { fast: usize, slow: usize },
    /// Trade on the model's sample paths.
    Forecast(ForecastRule),
}

/// How the forecast strategy turns sample paths into a position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ForecastRule {
    /// Bars ahead the decision looks (the paths' length).
    pub horizon: usize,
    /// Sample paths per decision.
    pub samples: usize,
    /// Go long when P(close after `horizon` bars > close now) exceeds this; short
    /// when it is below `1 - threshold` (and shorts are allowed); flat otherwise.
    pub threshold: f64,
    /// The largest fraction of equity a position may take, in (0, 1].
    pub cap: f64,
    pub sizing: Sizing,
}

impl Default for ForecastRule {
    fn default() -> Self {
        ForecastRule {
            horizon: 5,
            samples: 100,
            threshold: 0.55,
            cap: 1.0,
            sizing: Sizing::Kelly,
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

const HELP: &str = "expected buy-hold, sma-cross:FAST,SLOW or \
                    forecast[:horizon=H,samples=S,threshold=P,cap=F,sizing=kelly|fixed]";

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
            "sma-cross" | "smacross" => {
                let a = args.ok_or_else(|| {
                    err("give the two SMA lengths, e.g. sma-cross:10,20".to_string())
                })?;
                let parts: Vec<&str> = a.split(',').map(str::trim).collect();
                let [f, sl] = parts[..] else {
                    return Err(err(format!(
                        "expected two lengths FAST,SLOW such as 10,20, got '{a}'"
                    )));
                };
                let len = |v: &str| match v.parse::<usize>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => Err(err(format!("'{v}' is not a length (a whole number >= 1)"))),
                };
                let (fast, slow) = (len(f)?, len(sl)?);
                if fast >= slow {
                    return Err(err(format!(
                        "FAST ({fast}) must be shorter than SLOW ({slow})"
                    )));
                }
                Ok(StrategySpec::SmaCross { fast, slow })
            }
            "forecast" => {
                let mut r = ForecastRule::default();
                for kv in args
                    .unwrap_or("")
                    .split(',')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                {
                    let Some((k, v)) = kv.split_once('=') else {
                        return Err(err(format!("'{kv}' is not key=value")));
                    };
                    let (k, v) = (k.trim(), v.trim());
                    let bad = |what: &str| err(format!("{k}={v}: {what}"));
                    match k {
                        "horizon" | "h" => {
                            r.horizon = v
                                .parse()
                                .ok()
                                .filter(|&n| n >= 1)
                                .ok_or_else(|| bad("horizon must be a whole number >= 1"))?
                        }
                        "samples" | "s" => {
                            r.samples = v
                                .parse()
                                .ok()
                                .filter(|&n| n >= 2)
                                .ok_or_else(|| bad("samples must be a whole number >= 2"))?
                        }
                        "threshold" | "p" => {
                            r.threshold = v
                                .parse()
                                .ok()
                                .filter(|&x: &f64| (0.5..1.0).contains(&x))
                                .ok_or_else(|| bad("threshold is a probability in [0.5, 1)"))?
                        }
                        "cap" => {
                            r.cap = v
                                .parse()
                                .ok()
                                .filter(|&x: &f64| x > 0.0 && x <= 1.0)
                                .ok_or_else(|| bad("cap is a fraction of equity in (0, 1]"))?
                        }
                        "sizing" => {
                            r.sizing = match v {
                                "kelly" => Sizing::Kelly,
                                "fixed" => Sizing::Fixed,
                                _ => return Err(bad("sizing is kelly or fixed")),
                            }
                        }
                        _ => {
                            return Err(err(format!(
                                "unknown option '{k}' (options: horizon, samples, threshold, cap, sizing)"
                            )))
                        }
                    }
                }
                Ok(StrategySpec::Forecast(r))
            }
            _ => Err(err(format!("unknown strategy '{name}': {HELP}"))),
        }
    }
}

impl fmt::Display for StrategySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrategySpec::BuyHold => f.write_str("buy-hold"),
            StrategySpec::SmaCross { fast, slow } => write!(f, "sma-cross:{fast},{slow}"),
            StrategySpec::Forecast(r) => write!(
                f,
                "forecast:horizon={},samples={},threshold={},cap={},sizing={}",
                r.horizon, r.samples, r.threshold, r.cap, r.sizing
            ),
        }
    }
}

impl StrategySpec {
    /// Whether the strategy needs a model run.
    pub fn needs_model(&self) -> bool {
        matches!(self, StrategySpec::Forecast(_))
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
        assert_eq!(
            parse("sma-cross:10,20"),
            Ok(StrategySpec::SmaCross { fast: 10, slow: 20 })
        );
        let f = parse("forecast:horizon=3,samples=50,threshold=0.6,cap=0.5,sizing=fixed").unwrap();
        assert_eq!(parse(&f.to_string()), Ok(f.clone()));
        assert_eq!(
            f,
            StrategySpec::Forecast(ForecastRule {
                horizon: 3,
                samples: 50,
                threshold: 0.6,
                cap: 0.5,
                sizing: Sizing::Fixed
            })
        );
        assert_eq!(
            parse("forecast"),
            Ok(StrategySpec::Forecast(ForecastRule::default()))
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
    }
}
