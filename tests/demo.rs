use crate::util::{candlecast, fails_with, stderr, stdout, Dir};
use std::path::Path;

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| {
            rec.unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect();
    let width = rows[0].len();
    assert!(
        rows.iter().all(|row| row.len() == width),
        "{}: ragged rows",
        path.display()
    );
    rows
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `candlecast demo --quick` runs every stage from an empty directory and leaves
/// every output file in place and well formed.
#[test]
fn quick_demo_writes_every_output() {
    let dir = Dir::new();
    let out = dir.path().join("demo");
    let r = candlecast(["demo", "--quick", "--out", &out.display().to_string()]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert!(stdout(&r).contains("demo finished"), "{}", stdout(&r));
    // Without --from-scratch the demo starts from the shipped base model.
    assert!(!out.join("runs/pretrain").exists());
    for run in ["runs/finetune-spx"] {
        for f in ["model.safetensors", "optimizer.safetensors"] {
            assert!(out.join(run).join(f).metadata().unwrap().len() > 1000);
        }
        assert!(json(&out.join(run).join("meta.json")).is_object());
        assert!(csv_rows(&out.join(run).join("curve.csv")).len() > 1);
    }
    let fc = csv_rows(&out.join("forecast.csv"));
    assert_eq!(
        fc[0][..5],
        ["series", "origin", "step", "timestamp", "mean"]
    );
    assert_eq!(fc.len(), 1 + 4 * 3, "4 series x 3 steps");
    let card = json(&out.join("scorecard/scorecard.json"));
    assert_eq!(card["series"].as_array().unwrap().len(), 4);
    assert!(csv_rows(&out.join("scorecard/calibration.csv")).len() > 1);
    assert!(std::fs::read_to_string(out.join("scorecard/scorecard.md"))
        .unwrap()
        .contains("| gpt |"));
    let stats = json(&out.join("backtest/stats.json"));
    assert!(stats.is_object());
    for f in ["trades.csv", "equity.csv", "forecasts.csv"] {
        assert!(!csv_rows(&out.join("backtest").join(f)).is_empty(), "{f}");
    }
    for page in [
        "index.html",
        "scorecard/evaluate.html",
        "backtest/report.html",
    ] {
        let html = std::fs::read_to_string(out.join(page)).unwrap();
        assert!(html.trim_end().ends_with("</html>"), "{page}");
    }
    // index.html links to pages that exist.
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    for link in index.split("href=\"").skip(1) {
        let target = &link[..link.find('"').unwrap()];
        assert!(
            out.join(target).exists(),
            "index.html links to missing {target}"
        );
    }
    // index.html shows the headline results, read from the files the stages wrote.
    let svg = std::fs::read_to_string(out.join("backtest/equity.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && index.contains(&svg),
        "the equity chart inline"
    );
    let compare: Vec<&str> = stats["compare"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["strategy"].as_str().unwrap())
        .collect();
    // Specs are written whole, with every default: compare names and the demo's horizon.
    let name = |spec: &str| spec.split(':').next().unwrap_or_default().to_string();
    let main = stats["strategy"].as_str().unwrap();
    assert!(main.contains("horizon=3,samples=16"), "{main}");
    let names: Vec<String> = std::iter::once(main)
        .chain(compare.iter().copied())
        .map(name)
        .collect();
    assert_eq!(
        names,
        [
            "vol-target",
            "forecast",
            "forecast-threshold",
            "buy-hold",
            "sma-cross"
        ]
    );
    assert_eq!(compare[3], "sma-cross:10,20");
    assert!(
        index.contains(
            "<th>vol-target</th><th>forecast</th><th>forecast-threshold</th>\
             <th>buy-hold</th><th>sma-cross:10,20</th>"
        ),
        "the strategies side by side"
    );
    let ret = |m: &serde_json::Value| format!("<td>{:.3}</td>", m["return_pct"].as_f64().unwrap());
    let row = format!(
        "<tr><td>Return [%]</td>{}{}</tr>",
        ret(&stats["metrics"]),
        (0..4)
            .map(|k| ret(&stats["compare"][k]["metrics"]))
            .collect::<String>()
    );
    assert!(index.contains(&row), "{row}");
    // The verdicts against buy-and-hold: one per strategy, "-" for buy-and-hold itself.
    assert!(index.contains("<tr><td>vs Buy &amp; Hold</td>"), "verdicts");
    assert!(stats["vs_buy_hold"]["verdict"].is_string());
    assert!(stats["compare"][2]["vs_buy_hold"].is_null());
    // The scorecard's summary: every forecaster's geometric mean.
    for a in card["aggregate"].as_array().unwrap() {
        let cell = format!(
            "<td>{}</td><td>{:.4}</td>",
            a["forecaster"].as_str().unwrap(),
            a["relative_crps_geomean"].as_f64().unwrap()
        );
        assert!(index.contains(&cell), "{cell}");
    }
    // A verdict line per series and model forecaster judged against the bar.
    let mut verdicts = 0;
    for sc in card["series"].as_array().unwrap() {
        let file = Path::new(sc["series"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        for f in sc["scores"].as_array().unwrap() {
            if f["vs_bar"].is_object() && f["forecaster"].as_str().unwrap().starts_with("gpt") {
                let line = format!(
                    "<li><b>{}</b> on {file}:",
                    f["forecaster"].as_str().unwrap()
                );
                assert!(index.contains(&line), "{line}");
                verdicts += 1;
            }
        }
    }
    assert!(verdicts >= 4, "{verdicts} verdicts");
    assert_eq!(index.matches("<li><b>").count(), verdicts);
    assert_eq!(
        index.matches("; meets the bar.").count()
            + index.matches("; does not meet the bar.").count(),
        verdicts
    );
    // A second run into the same folder needs --force, and leaves it untouched.
    let fc = std::fs::read(out.join("forecast.csv")).unwrap();
    std::fs::write(out.join("forecast.csv"), "earlier").unwrap();
    let again = candlecast(["demo", "--quick", "--out", &out.display().to_string()]);
    fails_with(&again, "--force");
    assert_eq!(std::fs::read(out.join("forecast.csv")).unwrap(), b"earlier");
    // With --force every stage replaces its own earlier output (issue 19: each stage
    // refuses that on its own without it), with the same bytes.
    let again = candlecast([
        "demo",
        "--quick",
        "--force",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(std::fs::read(out.join("forecast.csv")).unwrap(), fc);
}

/// `--from-scratch` pretrains on the bundled series first and uses that model.
#[test]
fn quick_demo_from_scratch_pretrains() {
    let dir = Dir::new();
    let out = dir.path().join("demo");
    let r = candlecast([
        "demo",
        "--quick",
        "--from-scratch",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    for run in ["runs/pretrain", "runs/finetune-spx"] {
        assert!(out.join(run).join("model.safetensors").exists(), "{run}");
        assert!(csv_rows(&out.join(run).join("curve.csv")).len() > 1);
    }
    let card = json(&out.join("scorecard/scorecard.json"));
    assert!(card["protocol"]["model"]
        .as_str()
        .unwrap()
        .ends_with("runs/pretrain"));
}
