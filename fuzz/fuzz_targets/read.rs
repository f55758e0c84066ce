//! `read_bytes` must never panic, whatever the bytes and options.
//!
//! The whole input is always read with the default options; the first byte also
//! picks an option variant (repair, date order, strftime pattern, zone, forced
//! delimiter, explicit columns) for a second read of the same bytes.
#![no_main]

use candlecast_data::{read_bytes, resample, Dataset, ReadOptions, Repair, Role};
use libfuzzer_sys::fuzz_target;

fn touch(ds: &Dataset) {
    let mut sum = 0.0f64;
    let rows = ds.panel.rows();
    for s in &ds.panel.series {
        let _ = s.interval_ms();
        let _ = s.gap_count();
        let _ = s.first_ts().map(|t| t.to_rfc3339());
        let _ = s.last_ts().map(|t| t.to_rfc3339());
        for b in s.bars() {
            sum += b.open + b.high + b.low + b.close + b.volume;
        }
        for every in ["1h", "1m", "1d"] {
            if let Ok(iv) = every.parse() {
                if let Ok(r) = resample(s, iv) {
                    let _ = r.len();
                    let _ = r.interval_ms();
                }
            }
        }
    }
    std::hint::black_box((sum, rows, ds.notes.len(), ds.repairs.len()));
}

fn run(data: &[u8], opts: &ReadOptions) {
    if let Ok(ds) = read_bytes("fuzz.csv", data, opts) {
        touch(&ds);
    }
}

fuzz_target!(|data: &[u8]| {
    run(data, &ReadOptions::default());

    let Some(&sel) = data.first() else { return };
    let mut o = ReadOptions::default();
    if sel & 0x01 != 0 {
        o.repair = "sort,dedupe".parse::<Repair>().unwrap_or_default();
    }
    o.date_format = match (sel >> 1) & 0x03 {
        0 => None,
        1 => "dmy".parse().ok(),
        2 => "mdy".parse().ok(),
        _ => "%d.%m.%Y %H:%M:%S%.f".parse().ok(),
    };
    o.tz = match (sel >> 3) & 0x03 {
        0 => None,
        1 => Some(chrono_tz::Tz::America__New_York),
        2 => Some(chrono_tz::Tz::Australia__Lord_Howe),
        _ => Some(chrono_tz::Tz::Europe__London),
    };
    o.delimiter = match (sel >> 5) & 0x03 {
        0 | 1 => None,
        2 => Some(b';'),
        _ => Some(b'\t'),
    };
    if sel & 0x80 != 0 {
        o.columns = Some(vec![
            Role::Timestamp,
            Role::Open,
            Role::High,
            Role::Low,
            Role::Close,
            Role::Volume,
        ]);
        o.max_problems = 0;
    }
    run(data, &o);
});
