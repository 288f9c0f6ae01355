//! `lpcheck facts collect` and `lpcheck facts from-package`: write a facts bundle and say what
//! it holds and what could not be had.

use std::fmt::Write as _;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lpcheck_analyzer::kernel::bundle::BundleWriter;

use crate::cli::{FactsArgs, FactsCommand};
use lpcheck_live::facts::{collect, package};

/// Runs a `facts` subcommand; returns the exit code.
pub fn run(args: &FactsArgs) -> Result<i32> {
    let (bundle, output) = match &args.command {
        FactsCommand::Collect(args) => (collect::collect()?, args.output.clone()),
        FactsCommand::FromPackage(args) => {
            let work = tempfile::tempdir().context("cannot create a temporary directory")?;
            let (image, dbg) = match (&args.download, args.packages.as_slice()) {
                (Some(release), []) => (package::download(release, work.path())?, None),
                (None, [image]) => (image.clone(), None),
                (None, [image, dbg]) => (image.clone(), Some(dbg.clone())),
                (Some(_), _) => bail!("--download and package files exclude each other"),
                (None, _) => bail!(
                    "give linux-image-REL.deb (and optionally linux-image-REL-dbg.deb), or --download REL"
                ),
            };
            let bundle = package::from_packages(&image, dbg.as_deref(), work.path())?;
            (bundle, args.output.clone())
        }
    };
    let path = output.unwrap_or_else(|| default_name(&bundle));
    let summary = summary(&bundle, &path);
    bundle.finish(&path)?;
    let size = std::fs::metadata(&path)
        .map(|m| m.len())
        .unwrap_or_default();
    println!("wrote {} ({size} bytes)", path.display());
    print!("{summary}");
    Ok(0)
}

/// `lpcheck-facts-RELEASE.tar.zst` in the current directory.
fn default_name(bundle: &BundleWriter) -> PathBuf {
    PathBuf::from(format!(
        "lpcheck-facts-{}.tar.zst",
        bundle.manifest().release
    ))
}

/// What the bundle holds and lacks, one line each.
fn summary(bundle: &BundleWriter, path: &Path) -> String {
    let manifest = bundle.manifest();
    let mut text = format!(
        "{}: release {}, vermagic {}\n",
        path.display(),
        manifest.release,
        manifest.vermagic.as_deref().unwrap_or("unknown")
    );
    for member in &manifest.members {
        let _ = writeln!(
            text,
            "  {:40} {:>10} bytes  {}",
            member.name, member.size, member.what
        );
    }
    for unknown in &manifest.unknown {
        let _ = writeln!(text, "  unknown {}: {}", unknown.item, unknown.reason);
    }
    text
}
