use crate::util::{candlecast, fails_with, stderr, stdout, walk_csv, Dir};

#[test]
fn the_scorecard_scores_the_model_against_every_baseline() {
    let dir = Dir::new();
    let data = dir.write("w.csv", walk_csv(3, 1200)).display().to_string();
    let cfg = dir
        .write(
            "c.toml",
            "[model]\nd_model = 16\nn_head = 2\nn_layer = 1\nmax_ctx = 16\n\n[train]\nsteps = 20\nbatch_size = 8\nseq_len = 16\n\
             lr = 3e-3\nmin_lr = 3e-4\nwarmup_steps = 2\ngrad_clip = 1.0\neval_every = 10\neval_windows = 32\npatience = 0\n\
             checkpoint_every = 0\nseed = 1\n",
        )
        .display()
        .to_string();
    let run = dir.path().join("run").display().to_string();
    let out = candlecast(["train", "--config", &cfg, "--data", &data, "--out", &run]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let card = dir.path().join("card");
    let evaluate = |out: &std::path::Path, extra: &[&str]| {
        let out_dir = out.display().to_string();
        let mut args = vec![
            "evaluate", "--model", &run, "--input", &data, "--out", &out_dir,
        ];
        args.extend_from_slice(extra);
        let out = candlecast(args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        out
    };
    let out = evaluate(
        &card,
        &["--horizon", "3", "--samples", "20", "--origins-every", "4"],
    );
    assert!(stdout(&out).contains("| gpt |"), "{}", stdout(&out));
    assert!(stdout(&out).contains("Multi-step"), "{}", stdout(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(card.join("scorecard.json")).unwrap())
            .unwrap();
    let scores = json["series"][0]["scores"].as_array().unwrap();
    let names: Vec<&str> = scores
        .iter()
        .map(|s| s["forecaster"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "rw-const",
            "rw-ewma",
            "garch",
            "hs",
            "fhs",
            "fhs-range",
            "har",
            "fhs-seasonal",
            "gpt",
            "gpt-cal",
            "gpt-pool"
        ]
    );
    let t = json["series"][0]["temperature"].as_f64().unwrap();
    assert!((0.25..=4.0).contains(&t), "{t}");
    // Multi-step: horizons 1..=3, origins 959, 963, ... up to bar 1196.
    let hz = json["series"][0]["horizons"].as_array().unwrap();
    assert_eq!(hz.len(), 3);
    for (k, h) in hz.iter().enumerate() {
        assert_eq!(h["horizon"], k + 1);
        assert_eq!(h["origins"], (1196 - 959) / 4 + 1);
        assert_eq!(h["samples"], 20);
        assert_eq!(h["scores"].as_array().unwrap().len(), 10);
    }
    let html = std::fs::read_to_string(card.join("evaluate.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("gpt-cal") && html.ends_with("</html>\n"));
    // 1200 bars: test origins are bars 960..1199.
    assert!(scores.iter().all(|s| s["n"] == 240), "{scores:?}");
    assert!(scores
        .iter()
        .filter(|s| s["forecaster"] != "gpt")
        .all(|s| s["vs_reference"]["statistic"].is_number()));
    let cal = std::fs::read_to_string(card.join("calibration.csv")).unwrap();
    assert_eq!(cal.lines().count(), 1 + 11 * 10);
    // The bar: a classical forecaster chosen on the validation slice, and the model
    // tested against it.
    let bar = json["series"][0]["bar"].as_str().unwrap();
    assert!(names[..8].contains(&bar), "{bar}");
    assert_eq!(json["series"][0]["bar_chosen_on"], "validation");
    let gpt = scores.iter().find(|s| s["forecaster"] == "gpt").unwrap();
    assert!(gpt["vs_bar"]["statistic"].is_number());
    assert!(gpt["meets_bar"].is_boolean());
    // The bar 3 bars ahead: chosen the same way on the 3-bar return (the
    // validation slice's 94 origins, bars 863..956, have 3 bars after them), and
    // the paths tested against it at every horizon.
    let bar3 = json["series"][0]["horizon_bar"].as_str().unwrap();
    assert!(names[..8].contains(&bar3), "{bar3}");
    assert_eq!(json["series"][0]["horizon_bar_chosen_on"], "validation");
    for h in hz {
        let gpt = h["scores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["forecaster"] == "gpt");
        assert!(gpt.unwrap()["vs_bar"]["statistic"].is_number(), "{h}");
    }
    let md = std::fs::read_to_string(card.join("scorecard.md")).unwrap();
    assert!(md.contains("The bar at k = 3 "), "{md}");
    assert!(
        md.contains(&format!(
            "- {data}: `{bar3}` (best classical on the validation slice"
        )),
        "{md}"
    );
    // gpt-pool: gpt and the bar mixed with a weight fitted on the validation slice.
    let w = json["series"][0]["pool_weight"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&w), "{w}");
    let pool = scores
        .iter()
        .find(|s| s["forecaster"] == "gpt-pool")
        .unwrap();
    assert_eq!(pool["n"], 240);
    assert!(pool["meets_bar"].is_boolean());
    let md = std::fs::read_to_string(card.join("scorecard.md")).unwrap();
    assert!(md.contains(&format!("w = {w:.3} on `gpt`")), "{md}");
    // The slice score: `gpt` and the bar on the targets `gpt-cal` was fitted on.
    let v = &json["series"][0]["validation"];
    let n = v["targets"].as_u64().unwrap();
    assert_eq!(Some(n), json["series"][0]["calibration_bars"].as_u64());
    let (g, b) = (v["gpt"].as_f64().unwrap(), v["bar"].as_f64().unwrap());
    assert!(g > 0.0 && b > 0.0 && g.is_finite() && b.is_finite(), "{v}");
    assert!(md.contains(&format!("{:.4} ({n} targets)", g / b)), "{md}");
    let html = std::fs::read_to_string(card.join("evaluate.html")).unwrap();
    assert!(html.contains(&format!("on that slice {:.4} ({n} targets)", g / b)));
    assert!(std::fs::read_to_string(card.join("scorecard.md"))
        .unwrap()
        .contains("Geometric mean"));
    // gpt-cal's spread, where one was kept, is within its search range;
    // `--no-spread` (how the base model's shipped temperature is fitted) fits
    // temperature and top-p alone and leaves the raw model as it was.
    if let Some(s) = json["series"][0].get("spread") {
        let s = s.as_f64().unwrap();
        assert!((0.5..=2.0).contains(&s) && s != 1.0, "{s}");
    }
    // Its growth along paths is fitted on the validation slice's 94 origins (bars
    // 863..=956 with 3 bars after them in the training part), within its range.
    if let Some(g) = json["series"][0].get("spread_growth") {
        let g = g.as_f64().unwrap();
        assert!((-0.5..=0.5).contains(&g) && g != 0.0, "{g}");
    }
    let plain = dir.path().join("plain");
    evaluate(
        &plain,
        &[
            "--no-spread",
            "--horizon",
            "2",
            "--samples",
            "10",
            "--origins-every",
            "8",
        ],
    );
    let json2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plain.join("scorecard.json")).unwrap())
            .unwrap();
    assert!(json2["series"][0].get("spread").is_none());
    assert!(json2["series"][0].get("spread_growth").is_none());
    let crps = |j: &serde_json::Value, f: &str| {
        j["series"][0]["scores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["forecaster"] == f)
            .unwrap()["crps"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(crps(&json, "gpt"), crps(&json2, "gpt"));
    assert!(json2["series"][0]["temperature"].is_number());
    assert_eq!(json["protocol"]["calibration_bars"], "last 10%");
    // `--calibration-bars all`: gpt-cal fitted on the whole training part (bars
    // 1..960), the raw model and the test part as before.
    let all = dir.path().join("all");
    let out3 = evaluate(&all, &["--calibration-bars", "all"]);
    let json3: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(all.join("scorecard.json")).unwrap())
            .unwrap();
    assert_eq!(json3["protocol"]["calibration_bars"], "all");
    assert_eq!(crps(&json, "gpt"), crps(&json3, "gpt"));
    let fit = |j: &serde_json::Value| {
        let s = &j["series"][0];
        (
            s["temperature"].clone(),
            s["top_p"].clone(),
            s["spread"].clone(),
        )
    };
    assert_ne!(fit(&json), fit(&json3), "fitted on other bars");
    // No bar can be fitted before a slice that starts at the first bar: no pool,
    // and a warning that says why.
    assert!(json3["series"][0].get("pool_weight").is_none());
    assert!(json3["series"][0].get("validation").is_none());
    let warned = stderr(&out3);
    assert!(
        warned.contains("no gpt-pool: ")
            && warned.contains("on the bars before the calibration slice"),
        "{warned}"
    );
    for bad in ["0", "1.5", "most"] {
        let out = candlecast([
            "evaluate",
            "--model",
            &run,
            "--input",
            &data,
            "--out",
            &all.display().to_string(),
            "--force",
            "--calibration-bars",
            bad,
        ]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&out).contains("--calibration-bars"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn baselines_alone_and_bad_arguments() {
    let dir = Dir::new();
    let data = dir.write("w.csv", walk_csv(4, 400)).display().to_string();
    let card = dir.path().join("card").display().to_string();
    let out = candlecast([
        "evaluate",
        "--no-model",
        "--input",
        &data,
        "--out",
        &card,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(json["protocol"]["reference"], "rw-ewma");
    assert_eq!(
        json["series"][0]["scores"].as_array().map(Vec::len),
        Some(8)
    );
    // Without --model: the shipped base model, zero-shot, beside the baselines.
    let out = candlecast([
        "evaluate", "--input", &data, "--out", &card, "--json", "--force",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(json["protocol"]["reference"], "gpt");
    assert_eq!(json["protocol"]["model"], "base");
    assert_eq!(
        json["series"][0]["scores"].as_array().map(Vec::len),
        Some(11),
        "the baselines, gpt, gpt-cal and gpt-pool"
    );
    let out = candlecast([
        "evaluate",
        "--input",
        &data,
        "--out",
        &card,
        "--temperature",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = candlecast([
        "evaluate",
        "--model",
        "/nonexistent",
        "--input",
        &data,
        "--out",
        &card,
        "--force",
    ]);
    fails_with(&out, "/nonexistent: no such model folder");
}
