//! Facts bundles: one file holding everything lpcheck knows about one kernel build, written by
//! `lpcheck facts collect` (on the target host) or `lpcheck facts from-package` (from the
//! distribution's packages), and read offline by `check --facts`.
//!
//! The file is a tar archive compressed with zstd. Its first member is `manifest.json`
//! ([`Manifest`]: format name and version, release, vermagic, what each member is, and what
//! could not be read and why); the other members are the raw files under the names of
//! [`member`]. The format is documented in `docs/facts-bundle.md`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ftrace::FtraceList;
use super::kallsyms::Kallsyms;
use super::kthreads::KthreadStacks;
use super::{Fact, KernelFacts};
use crate::error::{AnalyzeError, Result};

/// The `format` field of every manifest.
pub const FORMAT: &str = "lpcheck-facts";

/// The version of the bundle format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The names of a bundle's members.
pub mod member {
    /// The manifest (always the first member).
    pub const MANIFEST: &str = "manifest.json";
    /// The symbol table: `/proc/kallsyms` (with module symbols) or the package's `System.map`.
    pub const KALLSYMS: &str = "kallsyms";
    /// tracefs `available_filter_functions_addrs` (address and name per line).
    pub const FTRACE_ADDRS: &str = "available_filter_functions_addrs";
    /// tracefs `available_filter_functions` (name per line).
    pub const FTRACE: &str = "available_filter_functions";
    /// The ftrace call sites of the image's `__mcount_loc` table, one hex address per line, in
    /// the symbol table's address space (package bundles).
    pub const MCOUNT_SITES: &str = "mcount-sites";
    /// The kernel's BTF (`/sys/kernel/btf/vmlinux`, or the image's `.BTF`).
    pub const BTF: &str = "btf/vmlinux";
    /// `/proc/modules`.
    pub const MODULES: &str = "modules";
    /// The kernel configuration (plain text).
    pub const CONFIG: &str = "config";
    /// Every kthread's stack: `PID<TAB>COMM<TAB>FRAMES`, frames innermost first.
    pub const KTHREAD_STACKS: &str = "kthread-stacks.tsv";
    /// The prefix of module BTF members (`btf/MODULE`).
    pub const MODULE_BTF_PREFIX: &str = "btf/";
}

/// A member as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// The member's name in the archive.
    pub name: String,
    /// What it is and where it was read from.
    pub what: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Something the bundle's writer could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownItem {
    /// The member it would have been (or a fact the source cannot give at all).
    pub item: String,
    /// Why it is missing (e.g. `/sys/kernel/tracing/available_filter_functions: Operation not
    /// permitted`).
    pub reason: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The kernel release (`uname -r`).
    pub release: String,
    /// The vermagic string modules for this kernel carry, when known.
    pub vermagic: Option<String>,
    /// How the bundle was made (`facts collect on HOST`, `facts from-package FILE`).
    pub created_by: String,
    /// The members other than the manifest.
    pub members: Vec<MemberInfo>,
    /// What could not be read, and why.
    pub unknown: Vec<UnknownItem>,
}

/// A bundle being written: members and unknowns, then [`BundleWriter::finish`].
#[derive(Debug)]
pub struct BundleWriter {
    manifest: Manifest,
    data: Vec<(String, Vec<u8>)>,
}

impl BundleWriter {
    /// A new bundle for `release`.
    pub fn new(release: &str, vermagic: Option<String>, created_by: impl Into<String>) -> Self {
        Self {
            manifest: Manifest {
                format: FORMAT.into(),
                format_version: FORMAT_VERSION,
                release: release.into(),
                vermagic,
                created_by: created_by.into(),
                members: Vec::new(),
                unknown: Vec::new(),
            },
            data: Vec::new(),
        }
    }

    /// Adds a member.
    pub fn add(&mut self, name: &str, what: impl Into<String>, data: Vec<u8>) {
        self.manifest.members.push(MemberInfo {
            name: name.into(),
            what: what.into(),
            size: data.len() as u64,
        });
        self.data.push((name.into(), data));
    }

    /// Records that `item` could not be had, and why.
    pub fn unknown(&mut self, item: &str, reason: impl Into<String>) {
        self.manifest.unknown.push(UnknownItem {
            item: item.into(),
            reason: reason.into(),
        });
    }

    /// The manifest so far.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Writes the bundle to `path` (tar, zstd-compressed).
    pub fn finish(self, path: &Path) -> Result<()> {
        let mut archive = tar::Builder::new(Vec::new());
        let manifest = serde_json::to_vec_pretty(&self.manifest).expect("manifests serialize");
        let mut entries = vec![(member::MANIFEST.to_string(), manifest)];
        entries.extend(self.data);
        for (name, data) in &entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            archive
                .append_data(&mut header, name, data.as_slice())
                .map_err(|e| AnalyzeError::io(path, e))?;
        }
        let tar = archive
            .into_inner()
            .map_err(|e| AnalyzeError::io(path, e))?;
        let mut compressed = Vec::new();
        ruzstd::encoding::compress(
            tar.as_slice(),
            &mut compressed,
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        std::fs::write(path, compressed).map_err(|e| AnalyzeError::io(path, e))
    }
}

/// A bundle read back.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The file.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    members: BTreeMap<String, Vec<u8>>,
}

impl Bundle {
    /// Reads and checks the bundle at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let bad = |detail: String| AnalyzeError::malformed(path, detail);
        let file = std::fs::File::open(path).map_err(|e| AnalyzeError::io(path, e))?;
        let decoder = ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(file))
            .map_err(|e| bad(format!("not a zstd-compressed facts bundle: {e}")))?;
        let mut archive = tar::Archive::new(decoder);
        let mut members = BTreeMap::new();
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("not a tar archive: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| bad(format!("bad tar entry: {e}")))?;
            let name = entry
                .path()
                .map_err(|e| bad(format!("bad member name: {e}")))?
                .to_string_lossy()
                .into_owned();
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .map_err(|e| bad(format!("{name}: {e}")))?;
            members.insert(name, data);
        }
        let manifest = members
            .get(member::MANIFEST)
            .ok_or_else(|| bad(format!("no {}: not a facts bundle", member::MANIFEST)))?;
        let manifest: Manifest = serde_json::from_slice(manifest)
            .map_err(|e| bad(format!("{}: {e}", member::MANIFEST)))?;
        if manifest.format != FORMAT {
            return Err(bad(format!(
                "format is `{}`, not `{FORMAT}`",
                manifest.format
            )));
        }
        if manifest.format_version > FORMAT_VERSION {
            return Err(bad(format!(
                "format version {} is newer than this lpcheck reads ({FORMAT_VERSION})",
                manifest.format_version
            )));
        }
        for listed in &manifest.members {
            if !members.contains_key(&listed.name) {
                return Err(bad(format!(
                    "the manifest lists `{}`, which the archive lacks",
                    listed.name
                )));
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            manifest,
            members,
        })
    }

    /// A member's bytes.
    pub fn member(&self, name: &str) -> Option<&[u8]> {
        self.members.get(name).map(Vec::as_slice)
    }

    /// The release the bundle describes.
    pub fn release(&self) -> &str {
        &self.manifest.release
    }

    /// Why `item` is missing, when the manifest says.
    fn why_missing(&self, items: &[&str]) -> String {
        let reasons: Vec<String> = self
            .manifest
            .unknown
            .iter()
            .filter(|u| items.contains(&u.item.as_str()))
            .map(|u| format!("{}: {}", u.item, u.reason))
            .collect();
        let reasons = if reasons.is_empty() {
            format!("no {} member", items.join(" or "))
        } else {
            reasons.join("; ")
        };
        format!(
            "{} ({}): {reasons}",
            self.path.display(),
            self.manifest.created_by
        )
    }

    /// A member as the path the analyzer's parsers name in errors (`BUNDLE:MEMBER`).
    fn origin(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("{}:{name}", self.path.display()))
    }

    fn text(&self, name: &str) -> Result<Option<String>> {
        self.member(name)
            .map(|bytes| {
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| AnalyzeError::malformed(&self.origin(name), "not UTF-8 text"))
            })
            .transpose()
    }

    /// The kernel facts the bundle holds: release, symbol table, ftrace list (each unknown, with
    /// the manifest's reason, when the bundle lacks it).
    pub fn kernel_facts(&self) -> Result<KernelFacts> {
        let source = |name: &str| format!("{} in {}", name, self.path.display());
        let release = Fact::known(self.release().to_string(), source(member::MANIFEST));
        let symbols = match self.text(member::KALLSYMS)? {
            Some(text) => Fact::known(
                Kallsyms::parse(&text, &self.origin(member::KALLSYMS))?,
                source(member::KALLSYMS),
            ),
            None => Fact::unknown(self.why_missing(&[member::KALLSYMS])),
        };
        let ftrace = self.ftrace_list()?;
        let mut facts = KernelFacts::from_parts(release, symbols, ftrace);
        if let Some(text) = self.text(member::KTHREAD_STACKS)? {
            let stacks = KthreadStacks::parse(&self.origin(member::KTHREAD_STACKS), &text)?;
            facts.kthread_stacks = Some((stacks, source(member::KTHREAD_STACKS)));
        }
        Ok(facts)
    }

    fn ftrace_list(&self) -> Result<Fact<FtraceList>> {
        for name in [member::FTRACE_ADDRS, member::FTRACE] {
            if let Some(text) = self.text(name)? {
                let list = FtraceList::parse(&text, &self.origin(name))?;
                return Ok(Fact::known(
                    list,
                    format!("{name} in {}", self.path.display()),
                ));
            }
        }
        if let Some(text) = self.text(member::MCOUNT_SITES)? {
            let origin = self.origin(member::MCOUNT_SITES);
            let mut sites = Vec::new();
            for (number, line) in text.lines().enumerate() {
                let address = u64::from_str_radix(line.trim(), 16).map_err(|_| {
                    AnalyzeError::bad_text(&origin, number + 1, "not a hex address")
                })?;
                sites.push(address);
            }
            return Ok(Fact::known(
                FtraceList::from_call_sites(sites),
                format!(
                    "__mcount_loc in {} (build-time call sites; ftrace may still refuse some at run time)",
                    self.path.display()
                ),
            ));
        }
        Ok(Fact::unknown(self.why_missing(&[
            member::FTRACE_ADDRS,
            member::FTRACE,
            member::MCOUNT_SITES,
        ])))
    }

    /// The kernel's BTF, or why the bundle has none.
    pub fn btf(&self) -> std::result::Result<Vec<u8>, String> {
        self.member(member::BTF)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| self.why_missing(&[member::BTF]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_round_trips_and_lists_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("facts.lpfacts");
        let mut writer =
            BundleWriter::new("6.1.0-57-amd64", Some("6.1.0-57-amd64 SMP".into()), "test");
        writer.add(
            member::KALLSYMS,
            "/proc/kallsyms",
            b"ffffffff81001000 T cmdline_proc_show\nffffffffc0001000 t mod_fn\t[kvm]\n".to_vec(),
        );
        writer.unknown(
            member::FTRACE,
            "/sys/kernel/tracing/available_filter_functions: Operation not permitted",
        );
        writer.finish(&path).unwrap();
        let bundle = Bundle::read(&path).unwrap();
        assert_eq!(bundle.release(), "6.1.0-57-amd64");
        assert_eq!(bundle.manifest.members[0].size, 69);
        let facts = bundle.kernel_facts().unwrap();
        assert!(facts.symbols.value().unwrap().has_module("kvm"));
        let Fact::Unknown { reason } = &facts.ftrace else {
            panic!("ftrace known");
        };
        assert!(reason.contains("Operation not permitted"), "{reason}");
        assert!(bundle.btf().unwrap_err().contains("no btf/vmlinux member"));
    }

    #[test]
    fn call_sites_make_an_ftrace_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pkg.lpfacts");
        let mut writer = BundleWriter::new("6.1.0-57-amd64", None, "test");
        writer.add(
            member::KALLSYMS,
            "System.map",
            b"ffffffff81001000 T f\nffffffff81001100 T g\n".to_vec(),
        );
        writer.add(
            member::MCOUNT_SITES,
            "__mcount_loc",
            b"ffffffff81001004\n".to_vec(),
        );
        writer.finish(&path).unwrap();
        let facts = Bundle::read(&path).unwrap().kernel_facts().unwrap();
        let symbols = facts.symbols.value().unwrap();
        let ftrace = facts.ftrace.value().unwrap();
        assert!(matches!(
            ftrace.hookability(0xffff_ffff_8100_1000, symbols),
            crate::kernel::ftrace::Hookability::Hookable
        ));
        assert!(matches!(
            ftrace.hookability(0xffff_ffff_8100_1100, symbols),
            crate::kernel::ftrace::Hookability::NotHookable
        ));
    }

    #[test]
    fn bad_bundles_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk");
        std::fs::write(&path, b"not zstd").unwrap();
        let error = Bundle::read(&path).unwrap_err().to_string();
        assert!(error.contains("junk") && error.contains("zstd"), "{error}");
        let mut writer = BundleWriter::new("r", None, "test");
        writer.add(member::KALLSYMS, "k", b"not a kallsyms line\n".to_vec());
        writer.finish(&path).unwrap();
        let error = Bundle::read(&path)
            .unwrap()
            .kernel_facts()
            .unwrap_err()
            .to_string();
        assert!(error.contains("junk:kallsyms:1"), "{error}");
    }
}
