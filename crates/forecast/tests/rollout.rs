#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! The rollout's scale state continues exactly where the tokenizer's encoding ends.

use candlecast_data::{Bar, Series, SourceZone, Timestamp};
use candlecast_forecast::scale_after;
use candlecast_tokenize::{Tokenizer, TokenizerConfig};

#[test]
fn scale_after_the_history_equals_the_encoders_next_scale() {
    let mut c = 100.0f64;
    let mut t = 0i64;
    let bars: Vec<Bar> = (0..500)
        .map(|i| {
            // A long gap (a week) every 100 bars restarts the warm-up.
            t += if i % 100 == 99 {
                7 * 86_400_000
            } else {
                3_600_000
            };
            let o = c;
            c *= 1.0 + 0.01 * (((i * 37 % 17) as f64) - 8.0) / 8.0;
            Bar {
                ts: Timestamp(t),
                open: o,
                high: o.max(c) * 1.001,
                low: o.min(c) * 0.999,
                close: c,
                volume: 1.0,
            }
        })
        .collect();
    let s = Series::from_bars(None, SourceZone::Utc, &bars).unwrap();
    let tok = Tokenizer::fit(&TokenizerConfig::default(), &[s.slice(0..400)]).unwrap();
    for end in [50, 99, 100, 101, 250, 500] {
        let part = s.slice(0..end);
        let enc = tok.encode(&part);
        let got = scale_after(&tok, &part, &enc).scale();
        // Equal up to rounding: the encoder takes ln C_t - ln C_{t-1}, the replay ln(C_t / C_{t-1}).
        assert!(
            (got - enc.next_scale).abs() <= 1e-12 * enc.next_scale,
            "after {end} bars: {got} vs {}",
            enc.next_scale
        );
    }
}
