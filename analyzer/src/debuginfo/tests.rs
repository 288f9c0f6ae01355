//! The debug-info analyses on small C programs built with `gcc -g -O2`, where GCC inlines and
//! clones (`analyzer/tests/fixtures/debuginfo/`). Skipped, with the reason printed, when gcc
//! or objcopy is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::btf::tests::{build, STRINGS};
use super::*;
use crate::elf::image::MappedImage;

/// [`gather`] on the image at `kernel`, mapped for this call.
fn gather_at(
    kernel: &Path,
    patch: &Path,
    queries: &[Query],
    policy: &CachePolicy,
) -> Result<DebugKnowledge> {
    let mapped = MappedImage::open(kernel)?;
    gather(&mapped.parse()?, patch, queries, policy)
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/debuginfo");

/// Runs a tool; `None` (with the reason printed) when it cannot be run at all.
fn run(tool: &str, args: &[&str]) -> Option<()> {
    match Command::new(tool).args(args).output() {
        Ok(out) if out.status.success() => Some(()),
        Ok(out) => panic!(
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(error) => {
            eprintln!("skipped: cannot run {tool}: {error}");
            None
        }
    }
}

/// `int helper(struct item *, int)` and `int leaf(int)` as BTF.
fn helper_btf() -> Vec<u8> {
    // STRINGS: "\0int\0char\0foo\0x\0file\0size_t\0long unsigned int\0", then ours.
    let mut strings = STRINGS.to_vec();
    let item = strings.len() as u32;
    strings.extend_from_slice(b"item\0");
    let helper = strings.len() as u32;
    strings.extend_from_slice(b"helper\0");
    let kind = |k: u32, vlen: u32| (k << 24) | vlen;
    build(
        &[
            (1, kind(1, 0), 4, &[0x0100_0020]), // 1 int
            (item, kind(4, 0), 16, &[]),        // 2 struct item (members left out)
            (0, kind(2, 0), 2, &[]),            // 3 struct item *
            (0, kind(13, 2), 1, &[0, 3, 0, 1]), // 4 int (struct item *, int)
            (helper, kind(12, 0), 4, &[]),      // 5 helper
        ],
        &strings,
    )
}

struct Built {
    _dir: tempfile::TempDir,
    kernel: PathBuf,
    patch: PathBuf,
}

fn build_fixtures() -> Option<Built> {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name);
    let source = |name: &str| Path::new(FIXTURES).join(name);
    let plain = out("kernel.nobtf");
    run(
        "gcc",
        &[
            "-g",
            "-O2",
            "-fno-pie",
            "-no-pie",
            "-o",
            plain.to_str()?,
            source("kernel.c").to_str()?,
        ],
    )?;
    run(
        "gcc",
        &[
            "-g",
            "-O2",
            "-c",
            "-o",
            out("patch.o").to_str()?,
            source("patch.c").to_str()?,
        ],
    )?;
    std::fs::write(out("btf"), helper_btf()).unwrap();
    let section = format!(".BTF={}", out("btf").display());
    run(
        "objcopy",
        &[
            "--add-section",
            &section,
            plain.to_str()?,
            out("kernel").to_str()?,
        ],
    )?;
    Some(Built {
        kernel: out("kernel"),
        patch: out("patch.o"),
        _dir: dir,
    })
}

fn query(function: &str, replacement: Option<&str>) -> Query {
    Query {
        object: KernelObject::Vmlinux,
        function: function.into(),
        sympos: 0,
        replacement: replacement.map(str::to_string),
    }
}

fn known<T: Clone>(fact: &Fact<T>) -> T {
    fact.value()
        .unwrap_or_else(|| panic!("unknown: {}", fact.describe()))
        .clone()
}

#[test]
fn inline_sites_callers_copies_and_prototypes_of_a_gcc_build() {
    let Some(built) = build_fixtures() else {
        return;
    };
    let queries = [
        query("helper", Some("good_helper")),
        query("leaf", Some("bad_helper")),
        query("scaled", None),
        query("no_such_function", None),
    ];
    let knowledge = gather_at(&built.kernel, &built.patch, &queries, &CachePolicy::Off).unwrap();
    let [helper, leaf, scaled, missing] = &knowledge.targets[..] else {
        panic!("{knowledge:?}");
    };

    assert_eq!(known(&helper.inlined_into), ["caller_one", "caller_two"]);
    assert_eq!(known(&helper.callers), Vec::<String>::new(), "only inlined");
    let pair = known(&helper.prototype);
    assert_eq!(pair.new.to_string(), "int (struct item *, int)");
    assert_eq!(pair.mismatch(), None);

    assert_eq!(known(&leaf.callers), ["call_a", "call_b"]);
    assert_eq!(known(&leaf.inlined_into), Vec::<String>::new());
    assert!(
        leaf.prototype.describe().contains("no function `leaf`"),
        "{}",
        leaf.prototype.describe()
    );

    assert!(scaled.inlined_into.value().is_none(), "only a clone exists");
    assert_eq!(
        knowledge.callers_of("scaled.constprop.0"),
        Some(&["use_scaled".to_string()][..])
    );
    assert!(missing
        .callers
        .describe()
        .contains("no out-of-line `no_such_function`"));
}

#[test]
fn a_changed_prototype_is_a_mismatch() {
    let Some(built) = build_fixtures() else {
        return;
    };
    let knowledge = gather_at(
        &built.kernel,
        &built.patch,
        &[query("helper", Some("bad_helper"))],
        &CachePolicy::Off,
    )
    .unwrap();
    let pair = known(&knowledge.targets[0].prototype);
    assert_eq!(pair.new.to_string(), "long int (struct item *)");
    assert_eq!(
        pair.mismatch().as_deref(),
        Some("1 parameter(s) instead of 2")
    );
}

#[test]
fn the_cache_answers_the_second_run_and_bad_files_are_ignored() {
    let Some(built) = build_fixtures() else {
        return;
    };
    let cache_dir = tempfile::tempdir().unwrap();
    let policy = CachePolicy::Dir(cache_dir.path().to_path_buf());
    let queries = [query("helper", Some("good_helper"))];
    let first = gather_at(&built.kernel, &built.patch, &queries, &policy).unwrap();
    assert!(
        first.notes.iter().any(|n| n.starts_with("cache written")),
        "{:?}",
        first.notes
    );
    let files: Vec<_> = std::fs::read_dir(cache_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");

    let second = gather_at(&built.kernel, &built.patch, &queries, &policy).unwrap();
    assert_eq!(
        second.notes.len(),
        1,
        "read, nothing new to write: {:?}",
        second.notes
    );
    assert_eq!(
        known(&second.targets[0].inlined_into),
        known(&first.targets[0].inlined_into)
    );

    std::fs::write(&files[0], b"LPCKDBG\0\x01\0\0\0\xff\xff").unwrap();
    let third = gather_at(&built.kernel, &built.patch, &queries, &policy).unwrap();
    assert!(
        third.notes[0].contains("ignored: corrupt"),
        "{:?}",
        third.notes
    );
    assert_eq!(
        known(&third.targets[0].inlined_into),
        ["caller_one", "caller_two"]
    );
}

#[test]
fn an_image_without_dwarf_gives_reasons() {
    let Some(built) = build_fixtures() else {
        return;
    };
    let stripped = built.kernel.with_extension("stripped");
    run(
        "objcopy",
        &[
            "--strip-debug",
            built.kernel.to_str().unwrap(),
            stripped.to_str().unwrap(),
        ],
    )
    .unwrap();
    let knowledge = gather_at(
        &stripped,
        &built.patch,
        &[query("helper", Some("good_helper"))],
        &CachePolicy::Off,
    )
    .unwrap();
    let target = &knowledge.targets[0];
    assert!(target
        .inlined_into
        .describe()
        .contains("has no DWARF (.debug_info)"));
    assert!(target.callers.value().is_some(), "the symbol table is kept");
    assert_eq!(known(&target.prototype).mismatch(), None, ".BTF is kept");
}

#[test]
fn the_running_kernels_btf_alone_checks_prototypes_and_claims_no_inline_sites() {
    let Some(built) = build_fixtures() else {
        return;
    };
    let queries = [
        query("helper", Some("good_helper")),
        query("leaf", Some("bad_helper")),
        Query {
            object: KernelObject::Module("ext4".into()),
            ..query("ext4_sync_fs", Some("good_helper"))
        },
    ];
    let knowledge = prototypes_from_btf(Ok(helper_btf()), "btf", &built.patch, &queries).unwrap();
    assert_eq!(knowledge.scope, Scope::Prototypes);
    let [helper, leaf] = &knowledge.targets[..] else {
        panic!("module targets are left out: {knowledge:?}");
    };
    assert_eq!(known(&helper.prototype).mismatch(), None);
    assert!(helper.inlined_into.describe().contains("--vmlinux"));
    assert!(helper.callers.value().is_none());
    assert!(leaf.prototype.describe().contains("no function `leaf`"));

    let bad = prototypes_from_btf(Ok(vec![1, 2, 3]), "btf", &built.patch, &queries).unwrap();
    assert!(bad.targets[0].prototype.describe().starts_with("btf: "));
    let absent = prototypes_from_btf(
        Err("/sys/kernel/btf/vmlinux: not found".into()),
        "btf",
        &built.patch,
        &queries,
    )
    .unwrap();
    assert!(absent.targets[0]
        .prototype
        .describe()
        .contains("/sys/kernel/btf/vmlinux"));
}
