//! `lpcheck facts from-package`: a facts bundle from a distribution's kernel packages, for CI
//! without a target host.
//!
//! From `linux-image-REL.deb`: `System.map` (the symbol table), the vmlinux inside `vmlinuz`
//! (its `__mcount_loc` call sites, `.init.text` and `.BTF`), the config and the vermagic of its
//! modules. From `linux-image-REL-dbg.deb`, when given: the unstripped vmlinux instead. What a
//! package cannot tell (what ftrace refuses at run time, loaded modules, task stacks) is
//! recorded as unknown.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use lpcheck_analyzer::kernel::bundle::{member, BundleWriter};
use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
use lpcheck_analyzer::kernel::vmlinux;
use object::{Object, ObjectSection};

use super::first_vermagic;

/// The xz stream magic, where `vmlinuz` holds the compressed vmlinux.
const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";

/// Builds the bundle from the image package (and its debug package).
pub fn from_packages(image: &Path, dbg: Option<&Path>, work: &Path) -> Result<BundleWriter> {
    let root = work.join("image");
    unpack(image, &root)?;
    let boot = root.join("boot");
    let map = find_prefixed(&boot, "System.map-").with_context(|| {
        format!(
            "{}: no boot/System.map-* (not a linux-image package?)",
            image.display()
        )
    })?;
    let release = map
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("System.map-"))
        .expect("found by prefix")
        .to_string();
    let map_text =
        std::fs::read_to_string(&map).with_context(|| format!("{}: cannot read", map.display()))?;
    let modules = root.join("lib/modules").join(&release);
    let vermagic = first_vermagic(&modules);
    let mut bundle = BundleWriter::new(
        &release,
        vermagic.as_ref().ok().cloned(),
        format!(
            "lpcheck facts from-package {}{}",
            image.display(),
            dbg.map(|d| format!(" {}", d.display())).unwrap_or_default()
        ),
    );
    if let Err(reason) = vermagic {
        bundle.unknown("vermagic", reason);
    }
    let (image_path, image_what) = match dbg {
        Some(dbg) => (
            debug_vmlinux(dbg, &release, &work.join("dbg"))?,
            format!("the debug vmlinux of {}", dbg.display()),
        ),
        None => {
            let vmlinuz = boot.join(format!("vmlinuz-{release}"));
            let out = work.join("vmlinux");
            extract_vmlinux(&vmlinuz, &out)?;
            (
                out,
                format!("the vmlinux extracted from {}", vmlinuz.display()),
            )
        }
    };
    // Debian ships a placeholder System.map in the image package (the real one is the debug
    // vmlinux's symbol table).
    let symbols = match (is_placeholder(&map_text), dbg) {
        (false, _) => {
            let table = Kallsyms::parse(&map_text, &map)?;
            bundle.add(
                member::KALLSYMS,
                format!("System.map-{release} of {} (vmlinux only)", image.display()),
                map_text.into_bytes(),
            );
            Some(table)
        }
        (true, Some(dbg)) => {
            let text = system_map(&image_path)?;
            let table = Kallsyms::parse(&text, &image_path)?;
            bundle.add(
                member::KALLSYMS,
                format!(
                    "the symbol table of the debug vmlinux of {} (vmlinux only)",
                    dbg.display()
                ),
                text.into_bytes(),
            );
            Some(table)
        }
        (true, None) => {
            bundle.unknown(
                member::KALLSYMS,
                format!(
                    "{}'s System.map is a placeholder (\"The real System.map is in the -dbg \
                     package\"): pass linux-image-{release}-dbg.deb too",
                    image.display()
                ),
            );
            None
        }
    };
    let facts = vmlinux::load(&image_path, symbols.as_ref())?;
    match &facts.call_sites {
        Ok(sites) => {
            let text: String = sites.iter().map(|a| format!("{a:x}\n")).collect();
            bundle.add(
                member::MCOUNT_SITES,
                format!("the __mcount_loc call sites of {image_what}, in System.map's addresses"),
                text.into_bytes(),
            );
        }
        Err(reason) => bundle.unknown(member::MCOUNT_SITES, format!("{image_what}: {reason}")),
    }
    bundle.unknown(
        "ftrace-runtime",
        "a package gives the build-time __mcount_loc call sites only: the call sites ftrace \
         refuses or disables at run time (ftrace_bug, functions in modules) are unknown",
    );
    match btf_section(&image_path) {
        Ok(btf) => bundle.add(
            member::BTF,
            format!("the .BTF section of {image_what}"),
            btf,
        ),
        Err(reason) => bundle.unknown(member::BTF, reason),
    }
    let config = boot.join(format!("config-{release}"));
    match std::fs::read(&config) {
        Ok(data) => bundle.add(
            member::CONFIG,
            format!("config-{release} of {}", image.display()),
            data,
        ),
        Err(error) => bundle.unknown(member::CONFIG, format!("{}: {error}", config.display())),
    }
    bundle.unknown(
        "module-symbols",
        "the symbols of the package's modules are not in the bundle: patches of module \
         functions are inconclusive (collect the facts on a host with the module loaded)",
    );
    for (item, what) in [
        (member::MODULES, "loaded modules"),
        (member::KTHREAD_STACKS, "kthread stacks"),
    ] {
        bundle.unknown(
            item,
            format!("a package has no running kernel, hence no {what}"),
        );
    }
    Ok(bundle)
}

/// Whether a `System.map` is Debian's placeholder.
fn is_placeholder(map: &str) -> bool {
    map.lines().count() <= 2 && map.contains("The real System.map is in")
}

/// Unpacks only the debug vmlinux of a `-dbg` package (the package holds GBs of module debug
/// files besides).
fn debug_vmlinux(dbg: &Path, release: &str, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let inside = format!("./usr/lib/debug/boot/vmlinux-{release}");
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "$3""#)
        .arg("sh")
        .arg(dbg)
        .arg(dir)
        .arg(&inside)
        .status()
        .context("cannot run dpkg-deb and tar")?;
    let path = dir.join(&inside);
    if !status.success() || !path.exists() {
        bail!("{}: no {inside} in the package ({status})", dbg.display());
    }
    Ok(path)
}

/// A `System.map` (`nm -n` format) from a vmlinux's ELF symbol table.
fn system_map(path: &Path) -> Result<String> {
    use object::{ObjectSymbol, SectionKind, SymbolKind, SymbolSection};
    let data = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let file =
        object::File::parse(&*data).with_context(|| format!("{}: not ELF", path.display()))?;
    let mut lines: Vec<(u64, String)> = Vec::new();
    for symbol in file.symbols() {
        let Ok(name) = symbol.name() else {
            continue;
        };
        if name.is_empty() || matches!(symbol.kind(), SymbolKind::File | SymbolKind::Section) {
            continue;
        }
        let letter = match symbol.section() {
            SymbolSection::Absolute => 'a',
            SymbolSection::Section(index) => match file.section_by_index(index).map(|s| s.kind()) {
                Ok(SectionKind::Text) => 't',
                Ok(SectionKind::UninitializedData) => 'b',
                Ok(SectionKind::ReadOnlyData | SectionKind::ReadOnlyString) => 'r',
                _ => 'd',
            },
            _ => continue,
        };
        let letter = if symbol.is_global() {
            letter.to_ascii_uppercase()
        } else {
            letter
        };
        let address = symbol.address();
        lines.push((address, format!("{address:016x} {letter} {name}\n")));
    }
    lines.sort();
    Ok(lines.into_iter().map(|(_, line)| line).collect())
}

/// Downloads `linux-image-RELEASE` with `apt-get download` into `dir`; returns the `.deb`.
pub fn download(release: &str, dir: &Path) -> Result<PathBuf> {
    let package = format!("linux-image-{release}");
    let status = Command::new("apt-get")
        .args(["download", &package])
        .current_dir(dir)
        .status()
        .context("cannot run apt-get")?;
    if !status.success() {
        bail!("apt-get download {package} failed ({status}): is the package in apt's lists?");
    }
    find_prefixed(dir, &format!("{package}_"))
        .with_context(|| format!("apt-get download {package} left no {package}_*.deb"))
}

/// Unpacks a `.deb` into `dir` with `dpkg-deb -x`.
fn unpack(deb: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let output = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(dir)
        .output()
        .context("cannot run dpkg-deb (Debian package dpkg)")?;
    if !output.status.success() {
        bail!(
            "{}: dpkg-deb -x failed: {}",
            deb.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// The first entry of `dir` whose name starts with `prefix`.
fn find_prefixed(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(std::result::Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Writes the ELF vmlinux held xz-compressed in `vmlinuz` to `out` (with `xz`).
fn extract_vmlinux(vmlinuz: &Path, out: &Path) -> Result<()> {
    let data =
        std::fs::read(vmlinuz).with_context(|| format!("{}: cannot read", vmlinuz.display()))?;
    let starts = data
        .windows(XZ_MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == XZ_MAGIC)
        .map(|(at, _)| at);
    for start in starts {
        let mut child = Command::new("xz")
            .args(["-dc", "--single-stream"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("cannot run xz (Debian package xz-utils)")?;
        let mut stdin = child.stdin.take().expect("piped");
        let input = data[start..].to_vec();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            // xz stops reading after the stream; a broken pipe then is expected.
            let _ = stdin.write_all(&input);
        });
        let output = child.wait_with_output().context("xz failed")?;
        let _ = writer.join();
        if output.stdout.starts_with(b"\x7fELF") {
            return std::fs::write(out, &output.stdout)
                .with_context(|| format!("{}: cannot write", out.display()));
        }
    }
    bail!("{}: no xz-compressed ELF vmlinux inside", vmlinuz.display())
}

/// The raw `.BTF` section of a vmlinux.
fn btf_section(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = object::File::parse(&*data).map_err(|e| format!("{}: {e}", path.display()))?;
    let section = file.section_by_name(".BTF").ok_or_else(|| {
        format!(
            "{} has no .BTF section (CONFIG_DEBUG_INFO_BTF off?)",
            path.display()
        )
    })?;
    section
        .data()
        .map(<[u8]>::to_vec)
        .map_err(|e| format!("{}: .BTF: {e}", path.display()))
}
