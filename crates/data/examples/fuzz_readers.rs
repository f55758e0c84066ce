//! A mutation fuzzer for the readers, for machines without cargo-fuzz: feeds mutated
//! real files (CSV, and JSON candles built from them) to `read_bytes` for a fixed
//! time and stops at the first panic, writing the input that caused it.
//!
//! Usage: cargo run --release -p candlecast-data --example fuzz_readers -- SECONDS [SEED_FILE...]
//! Prints the inputs tried; exit 1 (and `fuzz-crash-N.bin`) on a panic.

use candlecast_data::{read_bytes, DateFormat, ReadOptions, Repair};
use std::time::{Duration, Instant};

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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(60);
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for path in args.iter().skip(1) {
        match std::fs::read(path) {
            Ok(mut b) => {
                b.truncate(16 << 10);
                seeds.push(json_of(&b));
                seeds.push(b);
            }
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
    seeds.push(b"timestamp,open,high,low,close,volume\n2020-01-01,1,2,0.5,1.5,10\n".to_vec());
    seeds.push(b"[[1514764800000,1,2,0.5,1.5,10],[1514768400000,1.5,2,1,1.8,12]]".to_vec());
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
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let end = Instant::now() + Duration::from_secs(secs);
    let (mut tried, mut ok) = (0u64, 0u64);
    while Instant::now() < end {
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &mut input);
        let opts = &variants[rng.below(variants.len())];
        tried += 1;
        match std::panic::catch_unwind(|| read_bytes("fuzz", &input, opts)) {
            Ok(r) => ok += u64::from(r.is_ok()),
            Err(_) => {
                let name = format!("fuzz-crash-{tried}.bin");
                let _ = std::fs::write(&name, &input);
                println!("panic after {tried} inputs; input written to {name}");
                std::process::exit(1);
            }
        }
    }
    println!("{tried} inputs in {secs} s, no panic ({ok} read successfully)");
}
