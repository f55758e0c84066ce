//! The one rule every writing command follows, checked before any work starts so a
//! refusal costs nothing and leaves nothing behind:
//!
//! - an output never replaces one of the command's inputs (data files, a config) or
//!   anything inside a model folder the command reads; `--force` does not lift this,
//!   because losing the input is never what an overwrite was asked for;
//! - an output file that exists, or an output folder that exists and is not empty, is
//!   refused unless `--force`;
//! - the writes themselves stay temporary-file-then-rename in the same folder
//!   ([`write_atomic`] here, `candlecast_gpt::checkpoint` for a model's own files,
//!   the backtest report's folder swap), so a reader never sees half a file.
//!
//! Paths are compared canonicalised (symlinks, `./`, `..` resolved; a path that does
//! not exist yet through its nearest existing folder), and on Unix also by device and
//! inode, so a hard link to an input is caught too.

use anyhow::bail;
use std::path::{Component, Path, PathBuf};

/// What one command reads, so its outputs can be checked against it.
#[derive(Debug, Default)]
pub struct Guard {
    /// Input files, canonical, with the path as the user gave it for messages.
    files: Vec<(PathBuf, PathBuf)>,
    /// Model folders read (everything inside is the model's), canonical and as given.
    models: Vec<(PathBuf, PathBuf)>,
}

/// How an existing output folder is treated under `--force`.
#[derive(Debug, Clone, Copy)]
pub enum DirMode {
    /// Files are written into the folder one by one; `--force` lets same-named files
    /// be replaced and leaves the rest alone.
    WriteInto,
    /// The folder is swapped for a new one whole (the backtest report): anything in
    /// it is deleted, so even `--force` only replaces a folder `is_earlier` accepts
    /// as this command's own earlier output.
    ReplaceWhole {
        is_earlier: fn(&Path) -> bool,
        what: &'static str,
    },
}

impl Guard {
    pub fn new() -> Guard {
        Guard::default()
    }

    /// Protects an input file (a data file, a config).
    pub fn input(&mut self, path: &Path) {
        self.files.push((canonical(path), path.to_path_buf()));
    }

    /// Protects every input file in `paths`.
    pub fn inputs<'a>(&mut self, paths: impl IntoIterator<Item = &'a PathBuf>) {
        for p in paths {
            self.input(p);
        }
    }

    /// Protects a model folder and everything in it.
    pub fn model(&mut self, dir: &Path) {
        self.models.push((canonical(dir), dir.to_path_buf()));
    }

    /// Refuses `out` (named by `flag` in messages) when it is an input or lies in a
    /// model folder, or when it exists and `force` is not set.
    pub fn file(&self, out: &Path, flag: &str, force: bool) -> anyhow::Result<()> {
        self.not_an_input(out, flag)?;
        if out.is_dir() {
            bail!("{}: {flag} names a folder; give a file name", out.display());
        }
        if !force && out.symlink_metadata().is_ok() {
            bail!(
                "{}: exists; pass --force to overwrite it, or choose another {flag}",
                out.display()
            );
        }
        Ok(())
    }

    /// Refuses the output folder `out` when it is, or lies inside, a model folder,
    /// when `files` (the names the command writes there) would replace an input, when
    /// it exists and is not empty without `force`, and under
    /// [`DirMode::ReplaceWhole`] when it holds an input or a model (they would be
    /// deleted) or is not the command's earlier output.
    pub fn dir(
        &self,
        out: &Path,
        flag: &str,
        force: bool,
        files: &[&str],
        mode: DirMode,
    ) -> anyhow::Result<()> {
        self.not_an_input(out, flag)?;
        for f in files {
            self.not_an_input(&out.join(f), flag)?;
        }
        if out.exists() && !out.is_dir() {
            bail!(
                "{}: {flag} names a file; give a folder (it is created)",
                out.display()
            );
        }
        if let DirMode::ReplaceWhole { .. } = mode {
            let dir = canonical(out);
            let inside = |p: &Path| p.starts_with(&dir);
            if let Some((_, given)) = self
                .files
                .iter()
                .chain(&self.models)
                .find(|(c, _)| inside(c))
            {
                bail!(
                    "{}: holds {}, which this command reads, and {flag} is replaced whole; choose another {flag}",
                    out.display(),
                    given.display()
                );
            }
        }
        if !is_non_empty_dir(out)? {
            return Ok(());
        }
        match mode {
            DirMode::ReplaceWhole { is_earlier, what } => {
                if !is_earlier(out) {
                    bail!(
                        "{}: exists and is not {what}; it would be replaced whole, so candlecast does not touch it even with --force: remove it or choose another {flag}",
                        out.display()
                    );
                }
                if !force {
                    bail!(
                        "{}: holds an earlier report; pass --force to replace it whole, or choose another {flag}",
                        out.display()
                    );
                }
            }
            DirMode::WriteInto if !force => bail!(
                "{}: exists and is not empty; pass --force to write into it (files of the same name are replaced), or choose another {flag}",
                out.display()
            ),
            DirMode::WriteInto => {}
        }
        Ok(())
    }

    /// Refuses a path that is an input file or lies in a model folder.
    fn not_an_input(&self, out: &Path, flag: &str) -> anyhow::Result<()> {
        let c = canonical(out);
        for (input, given) in &self.files {
            if c == *input || same_file(out, given) {
                bail!(
                    "{}: {flag} would overwrite the input {}; --force does not allow this: choose another {flag}",
                    out.display(),
                    given.display()
                );
            }
        }
        for (dir, given) in &self.models {
            if c.starts_with(dir) {
                bail!(
                    "{}: {flag} lies in the model folder {}, which this command reads; --force does not allow this: choose another {flag}",
                    out.display(),
                    given.display()
                );
            }
        }
        Ok(())
    }
}

/// Whether `dir` is a folder with at least one entry.
/// Writes `bytes` to `path` through a temporary file in the same folder and a
/// rename, so a reader (or a run killed half-way) never sees half a file: the
/// rename is atomic on one file system, which the same folder guarantees.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!("{}: {e}", path.display());
    }
    Ok(())
}

fn is_non_empty_dir(dir: &Path) -> anyhow::Result<bool> {
    if !dir.is_dir() {
        return Ok(false);
    }
    let mut entries =
        std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    Ok(entries.next().is_some())
}

/// `path` with symlinks and `.`/`..` resolved: the nearest existing ancestor is
/// canonicalised and the rest (not yet created) appended, so outputs that do not
/// exist yet compare correctly too. Falls back to the absolute path when nothing
/// resolves (a permission error: the write will report it).
pub fn canonical(path: &Path) -> PathBuf {
    let abs = match std::path::absolute(path) {
        Ok(p) => p,
        Err(_) => path.to_path_buf(),
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.parent(), cur.components().next_back()) {
            (Some(parent), Some(Component::Normal(name))) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// Whether two existing paths are one file (hard links included).
#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &Path, _: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_input_is_refused_under_any_spelling_even_with_force() {
        let d = tmp();
        let input = d.path().join("x.csv");
        std::fs::write(&input, "a").unwrap_or_else(|e| panic!("{e}"));
        let mut g = Guard::new();
        g.input(&input);
        let sub = d.path().join("sub");
        std::fs::create_dir(&sub).unwrap_or_else(|e| panic!("{e}"));
        for spelling in [
            input.clone(),
            sub.join("../x.csv"),
            d.path().join("./x.csv"),
        ] {
            let e = g.file(&spelling, "--out", true).err();
            assert!(
                e.is_some_and(|e| e.to_string().contains("input")),
                "{spelling:?}"
            );
        }
        #[cfg(unix)]
        {
            let link = d.path().join("hard.csv");
            std::fs::hard_link(&input, &link).unwrap_or_else(|e| panic!("{e}"));
            assert!(g.file(&link, "--out", true).is_err());
        }
        assert!(g.file(&d.path().join("y.csv"), "--out", false).is_ok());
    }

    #[test]
    fn model_folders_and_existing_outputs() {
        let d = tmp();
        let model = d.path().join("run");
        std::fs::create_dir(&model).unwrap_or_else(|e| panic!("{e}"));
        let mut g = Guard::new();
        g.model(&model);
        assert!(g.file(&model.join("meta.json"), "--out", true).is_err());
        assert!(g.file(&model.join("new/x.csv"), "--out", true).is_err());
        let out = d.path().join("o.csv");
        std::fs::write(&out, "a").unwrap_or_else(|e| panic!("{e}"));
        let e = g.file(&out, "--out", false).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("--force")));
        assert!(g.file(&out, "--out", true).is_ok());
        // A folder holding the model cannot be replaced whole.
        let whole = DirMode::ReplaceWhole {
            is_earlier: |_| true,
            what: "a report",
        };
        assert!(g.dir(d.path(), "--out", true, &[], whole).is_err());
        assert!(g
            .dir(&d.path().join("fresh"), "--out", false, &[], whole)
            .is_ok());
        assert!(g
            .dir(d.path(), "--out", false, &[], DirMode::WriteInto)
            .is_err());
        assert!(g
            .dir(d.path(), "--out", true, &[], DirMode::WriteInto)
            .is_ok());
    }
}
