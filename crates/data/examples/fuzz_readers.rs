//! A mutation fuzzer for the readers, for machines without cargo-fuzz: feeds mutated
//! real files (CSV, JSON candles built from them, and with feature `parquet`
//! Parquet and Arrow IPC files built from them) to `read_bytes` for a fixed time
//! and stops at the first panic, writing the input that caused it.
//!
//! Usage: cargo run --release -p candlecast-data [--features parquet] --example fuzz_readers --
//!        SECONDS [--only csv|json|parquet|ipc] [SEED_FILE...]
//! Prints the inputs tried; exit 1 (and `fuzz-crash-N.bin`) on a panic. The
//! Parquet reader turns a panic inside polars into a refusal (polars is not ours to
//! fix); the panic hook still sees it, so those are counted, the first few inputs
//! kept as `fuzz-decoder-panic-N.bin`, and reported apart. `FUZZ_SAVE_LAST=1`
//! writes each input to `fuzz-last-input.bin` before reading it, for aborts.

use candlecast_data::{read_bytes, DateFormat, ReadOptions, Repair};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Panics seen by the hook, caught or not.
static PANICS: AtomicU64 = AtomicU64::new(0);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that reach the readers' branches: JSON structure, number forms,
/// timestamps, delimiters, line ends, magic bytes.
const TOKENS: [&[u8]; 24] = [
    b"[",
    b"]",
    b",",
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"null",
    b"1e308",
    b"-1",
    b"1.7e308",
    b"1514764800000",
    b"1514764800",
    b"2017-01-02 10:00",
    b"09-PM",
    b"\r\n",
    b"\n",
    b";",
    b"\t",
    b"\x1f\x8b",
    b"\xEF\xBB\xBF",
    b"NaN",
    b".",
    b"\0",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(input.len() + 1);
        match rng.below(6) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                input.splice(at..at, t.iter().copied());
            }
            2 if !input.is_empty() => {
                let end = (at + rng.below(64)).min(input.len());
                input.drain(at.min(end)..end);
            }
            3 if !input.is_empty() => {
                // Repeat a slice: long lines, many columns, duplicate rows.
                let from = rng.below(input.len());
                let len = rng.below(256).min(input.len() - from);
                let piece: Vec<u8> = input[from..from + len].to_vec();
                input.splice(at..at, piece);
            }
            4 => input.truncate(at),
            _ => {
                let b = rng.next() as u8;
                input.insert(at, b);
            }
        }
    }
}

/// JSON candles from the first rows of a CSV, so the JSON scanner is fuzzed from
/// realistic input too.
fn json_of(csv: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(csv);
    let mut out = String::from("[");
    for (i, line) in text.lines().skip(1).take(200).enumerate() {
        let f: Vec<&str> = line.split([',', ';']).collect();
        if f.len() < 5 {
            continue;
        }
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(&format!(
            "[{},{},\"{}\",{},{},{}]",
            1_500_000_000_000i64 + i as i64 * 60_000,
            f[1],
            f[2],
            f[3],
            f[4],
            f.get(5).unwrap_or(&"0")
        ));
    }
    out.push(']');
    out.into_bytes()
}

/// Small Parquet and IPC files from the first bars of a real file (read by the CSV
/// reader), with the timestamp as a datetime, an epoch integer and text, and
/// uncompressed pages so that mutations reach the values, not only the codec.
#[cfg(feature = "parquet")]
fn binary_of(csv: &[u8], parquet: bool, ipc: bool) -> Vec<Vec<u8>> {
    use polars::prelude::*;
    let Ok(ds) = read_bytes("seed.csv", csv, &ReadOptions::default()) else {
        return Vec::new();
    };
    let Some(s) = ds.panel.series.first() else {
        return Vec::new();
    };
    let n = s.len().min(200);
    let ms: Vec<i64> = s.timestamps()[..n].iter().map(|t| t.0).collect();
    let text: Vec<String> = ms
        .iter()
        .map(|&m| {
            chrono::DateTime::from_timestamp_millis(m)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default()
        })
        .collect();
    let cols = |ts: Column| -> PolarsResult<DataFrame> {
        DataFrame::new_infer_height(vec![
            ts,
            Column::new("open".into(), &s.open()[..n]),
            Column::new("high".into(), &s.high()[..n]),
            Column::new("low".into(), &s.low()[..n]),
            Column::new("close".into(), &s.close()[..n]),
            Column::new("volume".into(), &s.volume()[..n]),
        ])
    };
    let mut out = Vec::new();
    let frames = [
        Column::new("timestamp".into(), &ms)
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None)),
        Ok(Column::new("time".into(), &ms)),
        Ok(Column::new("date".into(), &text)),
    ];
    for ts in frames.into_iter().flatten() {
        let Ok(mut df) = cols(ts) else { continue };
        for c in [ParquetCompression::Uncompressed, ParquetCompression::Snappy] {
            if !parquet {
                break;
            }
            let mut b = Vec::new();
            if ParquetWriter::new(&mut b)
                .with_compression(c)
                .finish(&mut df)
                .is_ok()
            {
                out.push(b);
            }
        }
        let mut b = Vec::new();
        if ipc && IpcWriter::new(&mut b).finish(&mut df).is_ok() {
            out.push(b);
        }
    }
    out
}

#[cfg(not(feature = "parquet"))]
fn binary_of(_csv: &[u8], _parquet: bool, _ipc: bool) -> Vec<Vec<u8>> {
    Vec::new()
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(60);
    let only = match args.iter().position(|a| a == "--only") {
        Some(i) if i + 1 < args.len() => {
            let o = args.remove(i + 1);
            args.remove(i);
            Some(o)
        }
        _ => None,
    };
    let want = |kind: &str| only.as_deref().is_none_or(|o| o == kind);
    let binary = want("parquet") || want("ipc");
    if binary && cfg!(not(feature = "parquet")) && only.is_some() {
        eprintln!("--only parquet and --only ipc need --features parquet");
        std::process::exit(2);
    }
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for path in args.iter().skip(1) {
        match std::fs::read(path) {
            Ok(mut b) => {
                // The first 16 KiB, cut at a line end so the seed itself reads.
                b.truncate(16 << 10);
                if let Some(end) = b.iter().rposition(|&c| c == b'\n') {
                    b.truncate(end + 1);
                }
                if binary {
                    seeds.extend(binary_of(&b, want("parquet"), want("ipc")));
                }
                if want("json") {
                    seeds.push(json_of(&b));
                }
                if want("csv") {
                    seeds.push(b);
                }
            }
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
    if want("csv") {
        seeds.push(b"timestamp,open,high,low,close,volume\n2020-01-01,1,2,0.5,1.5,10\n".to_vec());
    }
    if want("json") {
        seeds.push(b"[[1514764800000,1,2,0.5,1.5,10],[1514768400000,1.5,2,1,1.8,12]]".to_vec());
    }
    if seeds.is_empty() {
        eprintln!("no seeds: give real files to build them from");
        std::process::exit(2);
    }
    println!("{} seed input(s)", seeds.len());
    let variants = [
        ReadOptions::default(),
        ReadOptions {
            repair: Repair {
                sort: true,
                dedupe: true,
                ohlc: true,
                keep_last: true,
            },
            ..ReadOptions::default()
        },
        ReadOptions {
            date_format: "%Y-%m-%d %I-%p".parse::<DateFormat>().ok(),
            ..ReadOptions::default()
        },
    ];
    std::panic::set_hook(Box::new(|_| {
        PANICS.fetch_add(1, Ordering::Relaxed);
    }));
    let mut decoder_panics = 0u64;
    let save_last = std::env::var_os("FUZZ_SAVE_LAST").is_some();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let end = Instant::now() + Duration::from_secs(secs);
    let (mut tried, mut ok) = (0u64, 0u64);
    while Instant::now() < end {
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &mut input);
        let opts = &variants[rng.below(variants.len())];
        tried += 1;
        if save_last {
            // An abort (a decoder's failed huge allocation) leaves no panic to catch:
            // the input is on disk before the read.
            let _ = std::fs::write("fuzz-last-input.bin", &input);
        }
        let before = PANICS.load(Ordering::Relaxed);
        match std::panic::catch_unwind(|| read_bytes("fuzz", &input, opts)) {
            Ok(r) => {
                ok += u64::from(r.is_ok());
                if PANICS.load(Ordering::Relaxed) != before {
                    // Caught inside the reader (polars) and returned as a refusal.
                    decoder_panics += 1;
                    if decoder_panics <= 5 {
                        let _ = std::fs::write(format!("fuzz-decoder-panic-{tried}.bin"), &input);
                    }
                }
            }
            Err(_) => {
                let name = format!("fuzz-crash-{tried}.bin");
                let _ = std::fs::write(&name, &input);
                println!("panic after {tried} inputs; input written to {name}");
                std::process::exit(1);
            }
        }
    }
    println!(
        "{tried} inputs in {secs} s, no panic ({ok} read successfully, {decoder_panics} refused after a panic inside polars)"
    );
}
