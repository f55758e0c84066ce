#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! Config files and saved tokenizers: what parses, what is refused, and the exact
//! messages a user sees.

mod common;

use candlecast_tokenize::{ScaleKind, TokenizeError, Tokenizer, TokenizerConfig, FORMAT_VERSION};
use std::path::{Path, PathBuf};

/// This package's directory, read at run time: a binary reused from another checkout
/// through a shared `CARGO_TARGET_DIR` keeps that checkout's compile-time path.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}

fn tiny_toml() -> PathBuf {
    manifest_dir().join("../../configs/tiny.toml")
}

/// tiny.toml is the defaults plus the model's extra inputs, which stay off for a
/// config that does not name them (so an old config trains the model it did).
#[test]
fn tiny_toml_is_the_default_with_the_inputs_on() {
    let cfg = TokenizerConfig::from_toml_file(&tiny_toml()).unwrap();
    assert_eq!(
        cfg,
        TokenizerConfig {
            calendar: true,
            volume_input_bins: 8,
            ..TokenizerConfig::default()
        }
    );
}

#[test]
fn other_tables_are_ignored_and_missing_fields_default() {
    let text = "[model]\nlayers = 2\nwhatever = \"x\"\n\n[tokenizer]\nreturn_bins = 32\n\n[train]\nlr = 1e-3\n";
    let cfg = TokenizerConfig::from_toml_str(text).unwrap();
    assert_eq!(
        cfg,
        TokenizerConfig {
            return_bins: 32,
            ..TokenizerConfig::default()
        }
    );
    assert_eq!(
        TokenizerConfig::from_toml_str("[model]\nlayers = 2\n").unwrap(),
        TokenizerConfig::default()
    );
}

#[test]
fn unknown_keys_and_bad_values_are_refused() {
    let e = TokenizerConfig::from_toml_str("[tokenizer]\nreturn_binz = 32\n").unwrap_err();
    assert!(e.contains("unknown field `return_binz`"), "{e}");
    let e = TokenizerConfig::from_toml_str("[tokenizer]\newma_lambda = 1.5\n").unwrap_err();
    assert_eq!(e, "tokenizer config: ewma_lambda = 1.5: must be in (0, 1)");
    let e = TokenizerConfig::from_toml_str("[tokenizer]\nreturn_bins = 4\n").unwrap_err();
    assert!(
        e.starts_with("tokenizer config: return_bins = 4: must be >= 5"),
        "{e}"
    );
    let e = TokenizerConfig::from_toml_str("[tokenizer]\nreturn_bins = \"many\"\n").unwrap_err();
    assert!(e.contains("return_bins"), "{e}");
    let e = TokenizerConfig::from_toml_str(
        "[tokenizer]\nreturn_bins = 4096\nwick_bins = 64\nvolume_bins = 8\n",
    )
    .unwrap_err();
    assert!(e.contains("vocabulary too large"), "{e}");
}

#[test]
fn a_bad_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, "[tokenizer]\ngap_multiple = 0.5\n").unwrap();
    let e = TokenizerConfig::from_toml_file(&p).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: tokenizer config: gap_multiple = 0.5: must be finite and >= 1",
            p.display()
        )
    );
    let missing = dir.path().join("nope.toml");
    assert!(matches!(
        TokenizerConfig::from_toml_file(&missing),
        Err(TokenizeError::Io { .. })
    ));
}

#[test]
fn fit_needs_returns() {
    let one = common::synth(1, 1);
    let e = Tokenizer::fit(&TokenizerConfig::default(), &[one]).unwrap_err();
    assert!(matches!(e, TokenizeError::NoTrainingData(_)), "{e}");
    assert!(Tokenizer::fit(&TokenizerConfig::default(), &[]).is_err());
}

fn saved(dir: &Path) -> (PathBuf, serde_json::Value) {
    let tok = Tokenizer::fit(&TokenizerConfig::default(), &[common::synth(3, 400)]).unwrap();
    let p = dir.join("tok.json");
    tok.save(&p).unwrap();
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    (p, v)
}

#[test]
fn saved_files_are_checked_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let (p, v) = saved(dir.path());
    assert_eq!(v["format"], "candlecast-tokenizer");
    assert_eq!(v["version"], FORMAT_VERSION);
    // no temporary file left behind
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("tok.json")]);

    let write = |v: &serde_json::Value| {
        std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
        Tokenizer::load(&p)
    };
    let mut other = v.clone();
    other["version"] = serde_json::json!(2);
    let e = write(&other).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: tokenizer format version 2; this build reads version 1",
            p.display()
        )
    );

    let mut other = v.clone();
    other["format"] = serde_json::json!("something-else");
    assert!(matches!(write(&other), Err(TokenizeError::Format { .. })));

    let mut other = v.clone();
    other["tokenizer"]["returns"]["edges"][3] = serde_json::json!(1e9);
    let e = write(&other).unwrap_err().to_string();
    assert!(e.ends_with("returns: edges are not ascending"), "{e}");

    let mut other = v.clone();
    other["tokenizer"]["returns"]["reps"]
        .as_array_mut()
        .unwrap()
        .pop();
    let e = write(&other).unwrap_err().to_string();
    assert!(
        e.contains("returns: 63 edges and 63 representatives for 64 bins"),
        "{e}"
    );

    let mut other = v.clone();
    other["tokenizer"]["initial_variance"] = serde_json::json!(-1.0);
    assert!(write(&other).is_err());

    let mut other = v.clone();
    other["tokenizer"]["extra"] = serde_json::json!(1);
    assert!(write(&other).is_err());

    std::fs::write(&p, "not json").unwrap();
    assert!(matches!(
        Tokenizer::load(&p),
        Err(TokenizeError::Format { .. })
    ));

    write(&v).unwrap();
}

#[test]
fn oversized_files_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.json");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(64 << 20).unwrap();
    let e = Tokenizer::load(&p).unwrap_err().to_string();
    assert!(e.contains("a saved tokenizer is far smaller"), "{e}");
}

#[test]
fn scale_options_parse_and_are_checked() {
    let cfg = TokenizerConfig::from_toml_str(
        "[tokenizer]\nscale = \"ewma\"\nreversion = 0.3\nlong_run_halflife = 50\n",
    )
    .unwrap();
    assert_eq!(cfg.scale, ScaleKind::Ewma);
    assert_eq!((cfg.reversion, cfg.long_run_halflife), (0.3, 50.0));
    let cfg = TokenizerConfig::from_toml_str("[tokenizer]\nscale = \"reverting\"\n").unwrap();
    assert_eq!(cfg, TokenizerConfig::default());
    assert_eq!(TokenizerConfig::default().scale, ScaleKind::Reverting);

    let e = TokenizerConfig::from_toml_str("[tokenizer]\nscale = \"garch\"\n").unwrap_err();
    assert!(e.contains("unknown variant `garch`"), "{e}");
    for (text, want) in [
        (
            "reversion = 0.0",
            "tokenizer config: reversion = 0: must be in (0, 1)",
        ),
        (
            "reversion = 1.0",
            "tokenizer config: reversion = 1: must be in (0, 1)",
        ),
        (
            "reversion = nan",
            "tokenizer config: reversion = NaN: must be in (0, 1)",
        ),
        (
            "long_run_halflife = 0.5",
            "tokenizer config: long_run_halflife = 0.5: must be in [1, 1e9] bars",
        ),
        (
            "long_run_halflife = inf",
            "tokenizer config: long_run_halflife = inf: must be in [1, 1e9] bars",
        ),
        (
            "range_weight = 1.0",
            "tokenizer config: range_weight = 1: must be in [0, 1)",
        ),
        (
            "range_weight = -0.5",
            "tokenizer config: range_weight = -0.5: must be in [0, 1)",
        ),
    ] {
        let e = TokenizerConfig::from_toml_str(&format!("[tokenizer]\n{text}\n")).unwrap_err();
        assert_eq!(e, want);
    }
    // Checked even when the plain EWMA does not use them: a config means what it says.
    let e = TokenizerConfig::from_toml_str("[tokenizer]\nscale = \"ewma\"\nreversion = 2.0\n")
        .unwrap_err();
    assert!(e.contains("reversion = 2"), "{e}");
    let cfg = TokenizerConfig::from_toml_str("[tokenizer]\nrange_weight = 0.75\n").unwrap();
    assert_eq!(cfg.range_weight, 0.75);
    let e = TokenizerConfig::from_toml_str("[tokenizer]\nscale = \"ewma\"\nrange_weight = 0.5\n")
        .unwrap_err();
    assert!(
        e.contains("range_weight = 0.5: needs scale = \"reverting\""),
        "{e}"
    );
}

/// A tokenizer saved before the `scale` option has no `scale`, `reversion` or
/// `long_run_halflife` keys: it loads as the plain EWMA it was fitted with, and
/// encodes exactly as that.
#[test]
fn tokenizers_saved_before_the_scale_option_load_as_plain_ewma() {
    let s = common::synth(5, 600);
    let ewma = TokenizerConfig {
        scale: ScaleKind::Ewma,
        ..TokenizerConfig::default()
    };
    let old = Tokenizer::fit(&ewma, &[s.slice(0..480)]).unwrap();
    let new = Tokenizer::fit(&TokenizerConfig::default(), &[s.slice(0..480)]).unwrap();
    let path = Path::new("meta.json");
    for tok in [&old, &new] {
        let mut v: serde_json::Value = serde_json::from_str(&tok.to_json().unwrap()).unwrap();
        let config = v["tokenizer"]["config"].as_object_mut().unwrap();
        for key in ["scale", "reversion", "long_run_halflife"] {
            assert!(config.remove(key).is_some(), "{key}");
        }
        let loaded = Tokenizer::from_json(&v.to_string(), path).unwrap();
        assert_eq!(loaded.config().scale, ScaleKind::Ewma);
        // The scales are the plain EWMA's (the bins are each file's own).
        let (a, b) = (loaded.encode(&s), old.encode(&s));
        assert!(a.scale == b.scale && a.next_scale == b.next_scale);
        if std::ptr::eq(tok, &old) {
            assert!(loaded == old && a == b);
        }
    }
    // The reverting scale differs, and round-trips as itself.
    assert!(new.encode(&s).scale != old.encode(&s).scale);
    let loaded = Tokenizer::from_json(&new.to_json().unwrap(), path).unwrap();
    assert_eq!(loaded, new);
}
