#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! The model's extra inputs: calendar ids by interval and zone, relative-volume
//! bins fitted on training bars only, "no volume" files, causality, and saved
//! tokenizers with and without inputs.

mod common;

use candlecast_data::{Bar, Series, SourceZone, Timestamp};
use candlecast_tokenize::{Tokenizer, TokenizerConfig};
use common::synth_bars;

const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// Monday 2024-01-15T00:00Z.
const MONDAY: i64 = 1_705_276_800_000;

fn cfg(calendar: bool, volume_input_bins: u32) -> TokenizerConfig {
    TokenizerConfig {
        calendar,
        volume_input_bins,
        ..TokenizerConfig::default()
    }
}

/// `n` bars `step` apart from `start`, volume `vol(i)`.
fn series(zone: SourceZone, start: i64, step: i64, n: usize, vol: impl Fn(usize) -> f64) -> Series {
    let bars: Vec<Bar> = (0..n)
        .map(|i| {
            let c = 100.0 * (1.0 + 0.01 * ((i * 7 % 13) as f64 - 6.0) / 6.0);
            Bar {
                ts: Timestamp(start + i as i64 * step),
                open: c,
                high: c * 1.002,
                low: c * 0.997,
                close: c,
                volume: vol(i),
            }
        })
        .collect();
    Series::from_bars(None, zone, &bars).unwrap()
}

/// Per bar (token order, one token per bar without gaps): `[time_of_day, day_of_week]`.
fn calendar_ids(tok: &Tokenizer, s: &Series) -> Vec<[u32; 2]> {
    let enc = tok.encode(s);
    let ids = tok.input_ids(s, &enc).unwrap();
    assert_eq!(ids.len(), 2 * enc.len());
    ids.chunks(2).map(|c| [c[0], c[1]]).collect()
}

#[test]
fn calendar_buckets_by_interval() {
    let fit = series(SourceZone::Utc, MONDAY, MIN, 300, |_| 1.0);
    let tok = Tokenizer::fit(&cfg(true, 0), &[fit]).unwrap();
    assert_eq!(
        tok.input_channels(),
        vec![
            ("time_of_day".to_string(), 49),
            ("day_of_week".to_string(), 8)
        ]
    );
    // 1-minute bars from Monday 00:00: bar 0 has no interval yet; bar 31 is 00:31
    // (bucket 2); bar 1439 is Monday 23:59 (48); bar 1440 Tuesday 00:00.
    let m1 = series(SourceZone::Utc, MONDAY, MIN, 1500, |_| 1.0);
    let ids = calendar_ids(&tok, &m1);
    assert_eq!(ids[0], [0, 0]);
    assert_eq!(ids[1], [1, 1]);
    assert_eq!(ids[31], [2, 1]);
    assert_eq!(ids[1439], [48, 1]);
    assert_eq!(ids[1440], [1, 2]);
    // 5-minute and hourly bars.
    let m5 = calendar_ids(
        &tok,
        &series(SourceZone::Utc, MONDAY, 5 * MIN, 300, |_| 1.0),
    );
    assert_eq!(m5[7], [2, 1]); // 00:35
    let h1 = calendar_ids(
        &tok,
        &series(SourceZone::Utc, MONDAY, 60 * MIN, 100, |_| 1.0),
    );
    assert_eq!(h1[13], [27, 1]); // 13:00
    assert_eq!(h1[25], [3, 2]); // Tuesday 01:00
                                // Daily bars: day of week only; weekly and monthly: nothing.
    let d1 = calendar_ids(&tok, &series(SourceZone::Utc, MONDAY, DAY, 20, |_| 1.0));
    assert_eq!(
        &d1[1..8],
        &[[0, 2], [0, 3], [0, 4], [0, 5], [0, 6], [0, 7], [0, 1]]
    );
    let w1 = calendar_ids(&tok, &series(SourceZone::Utc, MONDAY, 7 * DAY, 20, |_| 1.0));
    assert!(w1.iter().all(|&c| c == [0, 0]));
    let mo = calendar_ids(
        &tok,
        &series(SourceZone::Utc, MONDAY, 30 * DAY, 20, |_| 1.0),
    );
    assert!(mo.iter().all(|&c| c == [0, 0]));
}

#[test]
fn calendar_reads_the_series_zone() {
    let tok = Tokenizer::fit(
        &cfg(true, 0),
        &[series(SourceZone::Utc, MONDAY, MIN, 300, |_| 1.0)],
    )
    .unwrap();
    // Hourly bars in New York across the March 2024 change (10 March, 07:00Z):
    // local 00:00 stays bucket 1 on both sides, so the UTC stamps of local
    // midnight move from 05:00Z to 04:00Z.
    let start = 1_709_874_000_000; // 2024-03-08T05:00Z = Friday 00:00 EST
    let ny = series(
        SourceZone::Named("America/New_York".into()),
        start,
        60 * MIN,
        24 * 5,
        |_| 1.0,
    );
    let ids = calendar_ids(&tok, &ny);
    assert_eq!(ids[24], [1, 6]); // Saturday 00:00 EST
    assert_eq!(ids[48], [1, 7]); // Sunday 00:00 EST (05:00Z)
    assert_eq!(ids[71], [1, 1]); // Monday 00:00 EDT (04:00Z, 71 hours later)
                                 // A fixed offset: +05:30 moves 00:00Z to 05:30 (bucket 12).
    let ist = series(SourceZone::Offset(19_800), MONDAY, 30 * MIN, 10, |_| 1.0);
    assert_eq!(calendar_ids(&tok, &ist)[2], [1 + 11 + 2, 1]);
    // An unknown zone is an error, not UTC.
    let mars = series(
        SourceZone::Named("Mars/Olympus".into()),
        MONDAY,
        MIN,
        10,
        |_| 1.0,
    );
    assert!(tok.input_ids(&mars, &tok.encode(&mars)).is_err());
}

#[test]
fn volume_bins_come_from_training_bars_and_no_volume_is_id_0() {
    // Training volume cycles 1, 2, 3, 4: ratios spread over a few levels.
    let train = series(SourceZone::Utc, MONDAY, MIN, 400, |i| 1.0 + (i % 4) as f64);
    let tok = Tokenizer::fit(&cfg(false, 4), std::slice::from_ref(&train)).unwrap();
    assert_eq!(tok.input_channels(), vec![("volume".to_string(), 5)]);
    let enc = tok.encode(&train);
    let ids = tok.input_ids(&train, &enc).unwrap();
    assert_eq!(ids.len(), enc.len());
    assert!(ids.iter().all(|&v| (1..=4).contains(&v)));
    // Equal-frequency: every bin is used on the training bars.
    for b in 1..=4 {
        assert!(ids.contains(&b), "bin {b} unused: {ids:?}");
    }
    // A file without volume is "no volume" throughout, and its future too.
    let none = series(SourceZone::Utc, MONDAY, MIN, 50, |_| 0.0);
    let ids = tok.input_ids(&none, &tok.encode(&none)).unwrap();
    assert!(ids.iter().all(|&v| v == 0));
    let fut = tok.future_inputs(&none, 49).unwrap().unwrap();
    assert_eq!(fut.ids(&[Timestamp(MONDAY + 50 * MIN)]), vec![0]);
    // Volume that starts later: 0 until its first positive bar.
    let late = series(SourceZone::Utc, MONDAY, MIN, 50, |i| {
        if i < 10 {
            0.0
        } else {
            5.0
        }
    });
    let ids = tok.input_ids(&late, &tok.encode(&late)).unwrap();
    assert!(ids[..10].iter().all(|&v| v == 0) && ids[10..].iter().all(|&v| v > 0));
    // The future of a series with volume gets the bin that holds ratio 1.
    let fut = tok.future_inputs(&train, 399).unwrap().unwrap();
    let neutral = fut.ids(&[Timestamp(0)])[0];
    let flat = series(SourceZone::Utc, MONDAY, MIN, 50, |_| 3.0); // ratio 1 throughout
    let flat_ids = tok.input_ids(&flat, &tok.encode(&flat)).unwrap();
    assert!(
        flat_ids[1..].iter().all(|&v| v == neutral),
        "{neutral} {flat_ids:?}"
    );
}

/// Fitting the bins sees the training series only: what comes after it changes
/// nothing, and ids of bars up to t depend on bars up to t only.
#[test]
fn volume_bins_and_ids_do_not_leak() {
    for seed in 0..24u64 {
        let bars = synth_bars(seed, 600);
        let t = 100 + (seed as usize * 17) % 400;
        let mut changed = bars.clone();
        for (k, b) in changed.iter_mut().enumerate().skip(t + 1) {
            b.volume = if k % 3 == 0 { 0.0 } else { 1e9 * (k as f64) };
            b.ts = Timestamp(b.ts.0 + (k - t) as i64 * 7 * DAY);
        }
        let a = Series::from_bars(None, SourceZone::Named("Europe/London".into()), &bars).unwrap();
        let b = Series::from_bars(None, a.zone.clone(), &changed).unwrap();
        let c = cfg(true, 6);
        let fit_a = Tokenizer::fit(&c, &[a.slice(0..t + 1)]).unwrap();
        let fit_b = Tokenizer::fit(&c, &[b.slice(0..t + 1)]).unwrap();
        assert_eq!(fit_a, fit_b, "seed {seed}");
        let (ea, eb) = (fit_a.encode(&a), fit_a.encode(&b));
        let (ia, ib) = (
            fit_a.input_ids(&a, &ea).unwrap(),
            fit_a.input_ids(&b, &eb).unwrap(),
        );
        let k = ea.bar.iter().take_while(|&&x| x as usize <= t).count();
        assert_eq!(ia[..3 * k], ib[..3 * k], "seed {seed}");
        let prefix = a.slice(0..t + 1);
        let ip = fit_a.input_ids(&prefix, &fit_a.encode(&prefix)).unwrap();
        assert_eq!(ip[..], ia[..3 * k], "seed {seed}");
        // The future's ids depend on bars up to the origin only.
        let stamps = [Timestamp(bars[t].ts.0 + 3_600_000)];
        let fa = fit_a.future_inputs(&a, t).unwrap().unwrap();
        let fb = fit_a.future_inputs(&b, t).unwrap().unwrap();
        assert_eq!(fa.ids(&stamps), fb.ids(&stamps), "seed {seed}");
    }
}

#[test]
fn saved_tokenizers_keep_their_inputs_and_old_files_still_load() {
    let s = series(SourceZone::Utc, MONDAY, MIN, 300, |i| 1.0 + (i % 5) as f64);
    let on = Tokenizer::fit(&cfg(true, 8), std::slice::from_ref(&s)).unwrap();
    let json = on.to_json().unwrap();
    let back = Tokenizer::from_json(&json, std::path::Path::new("t.json")).unwrap();
    assert_eq!(back, on);
    assert_eq!(
        back.input_ids(&s, &back.encode(&s)).unwrap(),
        on.input_ids(&s, &on.encode(&s)).unwrap()
    );
    // With the inputs off nothing about them is written: files read as before.
    let off = Tokenizer::fit(&cfg(false, 0), std::slice::from_ref(&s)).unwrap();
    let json = off.to_json().unwrap();
    assert!(
        !json.contains("calendar") && !json.contains("volume_input"),
        "{json}"
    );
    assert_eq!(off.n_inputs(), 0);
    assert!(off.input_ids(&s, &off.encode(&s)).unwrap().is_empty());
    assert!(off.future_inputs(&s, 10).unwrap().is_none());
    // Bins that do not match the config are refused.
    let bad = on
        .to_json()
        .unwrap()
        .replace("\"volume_input_bins\": 8", "\"volume_input_bins\": 7");
    assert!(Tokenizer::from_json(&bad, std::path::Path::new("t.json")).is_err());
}

/// The regime channels: last in the order, N ids each, equal to stepping the public
/// scale and regime states bar by bar (what a rollout does with its paths), causal,
/// spread over the bins on the training bars, and saved with the tokenizer.
#[test]
fn regime_ids_are_the_rollouts_recursion_and_causal() {
    let c = TokenizerConfig {
        calendar: true,
        volume_input_bins: 4,
        regime_input_bins: 5,
        ..TokenizerConfig::default()
    };
    for seed in 0..6u64 {
        let mut bars = synth_bars(seed, 700);
        // No gaps here, so every bar's return feeds the scale.
        let step = 60_000;
        for (i, b) in bars.iter_mut().enumerate() {
            b.ts = Timestamp(MONDAY + i as i64 * step);
        }
        let s = Series::from_bars(None, SourceZone::Utc, &bars).unwrap();
        let tok = Tokenizer::fit(&c, &[s.slice(0..500)]).unwrap();
        let names: Vec<String> = tok.input_channels().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[3..], ["vol_level", "range_vol"]);
        assert_eq!(tok.input_channels()[3].1, 5);
        assert_eq!((tok.n_inputs(), tok.n_path_inputs()), (5, 2));
        let enc = tok.encode(&s);
        assert_eq!(enc.len(), s.len(), "seed {seed}: no gaps, no gap tokens");
        let ids = tok.input_ids(&s, &enc).unwrap();
        let (mut vs, mut rs) = (tok.scale_state(), tok.regime_state().unwrap());
        let mut seen = [[0usize; 5]; 2];
        for (t, b) in bars.iter().enumerate() {
            if t > 0 {
                vs.observe((b.close / bars[t - 1].close).ln(), b.high, b.low);
            }
            rs.observe(b.high, b.low);
            let want = tok.regime_ids(&vs, &rs).unwrap();
            assert_eq!(ids[5 * t + 3..5 * t + 5], want, "seed {seed}, bar {t}");
            if t < 500 {
                seen[0][want[0] as usize] += 1;
                seen[1][want[1] as usize] += 1;
            }
        }
        // Equal-frequency on the training bars: every bin holds about a fifth.
        for (ch, counts) in seen.iter().enumerate() {
            assert!(
                counts.iter().all(|&n| (60..=140).contains(&n)),
                "seed {seed}, channel {ch}: {counts:?}"
            );
        }
        // Causal: a prefix has the same ids.
        let prefix = s.slice(0..300);
        let ip = tok.input_ids(&prefix, &tok.encode(&prefix)).unwrap();
        assert_eq!(ip[..], ids[..5 * 300], "seed {seed}");
        // The future's shared ids leave the regime out (the rollout appends them).
        let fut = tok.future_inputs(&s, 699).unwrap().unwrap();
        assert_eq!(fut.ids(&[Timestamp(MONDAY + 700 * step)]).len(), 3);
    }
    // Saved and loaded whole; bins that do not match the config are refused.
    let s = series(SourceZone::Utc, MONDAY, MIN, 300, |i| 1.0 + (i % 5) as f64);
    let tok = Tokenizer::fit(&c, std::slice::from_ref(&s)).unwrap();
    let json = tok.to_json().unwrap();
    let back = Tokenizer::from_json(&json, std::path::Path::new("t.json")).unwrap();
    assert_eq!(back, tok);
    let bad = json.replace("\"regime_input_bins\": 5", "\"regime_input_bins\": 4");
    assert_ne!(bad, json);
    assert!(Tokenizer::from_json(&bad, std::path::Path::new("t.json")).is_err());
    let off = Tokenizer::fit(&cfg(true, 4), std::slice::from_ref(&s)).unwrap();
    assert!(!off.to_json().unwrap().contains("regime"));
    assert!(off.regime_state().is_none());
}
