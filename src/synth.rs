//! `candlecast synth`: write a synthetic corpus as CSV files.

use crate::args::SynthArgs;
use crate::output::write_atomic;
use anyhow::Context;
use candlecast_data::write_series;
use candlecast_synth::{generate_one, symbol};
use std::process::ExitCode;

pub fn run(args: &SynthArgs) -> anyhow::Result<ExitCode> {
    crate::output::Guard::new().dir(
        &args.out,
        "--out",
        args.force,
        &[],
        crate::output::DirMode::WriteInto,
    )?;
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let bar = crate::progress::bar(args.series, "synth");
    let mut params = Vec::with_capacity(args.series as usize);
    for i in 0..args.series as usize {
        let (p, s) = generate_one(args.seed, i, args.bars)?;
        let mut buf = Vec::new();
        write_series(&mut buf, &s).context("writing a synthetic series")?;
        let path = args.out.join(format!("{}.csv", symbol(i)));
        write_atomic(&path, &buf)?;
        params.push(serde_json::json!({ "symbol": symbol(i), "params": p }));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let meta = serde_json::json!({
        "seed": args.seed,
        "series": args.series,
        "bars": args.bars,
        "generator": concat!("candlecast ", env!("CARGO_PKG_VERSION")),
        "per_series": params,
    });
    let path = args.out.join("params.json");
    write_atomic(&path, serde_json::to_string_pretty(&meta)?.as_bytes())?;
    eprintln!(
        "wrote {} series x {} bars to {} (seed {})",
        args.series,
        args.bars,
        args.out.display(),
        args.seed
    );
    Ok(ExitCode::SUCCESS)
}
