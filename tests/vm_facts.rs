//! Facts bundles against reality, in the QEMU VM on Debian's stock kernel
//! (`tests/vm/guest/facts-bundle.sh`): `lpcheck facts collect` in the guest, then `check
//! --facts` on that bundle here on the host (and once in the guest, for its time) must give
//! every kmod/ fixture the verdict of the live `check` in the guest; and a bundle built here by
//! `facts from-package` from the same kernel's packages must agree too, except where the
//! package cannot know (a target module's symbols). Prints the verdict table, bundle sizes,
//! times and the facts that differ between the collected and the package bundle.
//!
//! Boots the kernel cache `$LPCHECK_KERNEL_CACHE` (default `target/kernel`; `support::guest`).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use lpcheck_analyzer::kernel::bundle::{member, Bundle};
use support::describe;

/// This test's name, for skips.
const TEST: &str = "vm_facts";

/// The fixtures whose target lives in a module (lpc_target): a package bundle has no module
/// symbols, so it is inconclusive there.
const MODULE_TARGETS: [&str; 1] = ["lp-target-stall"];

/// `check PATCH --facts BUNDLE --format json` here: (exit code, verdict).
/// `check --facts BUNDLE` on `module`: the exit code, the verdict and the names of the rules
/// that found something.
fn check_with(module: &Path, bundle: &Path) -> (i32, String, Vec<String>) {
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .arg("check")
        .arg(module)
        .arg("--facts")
        .arg(bundle)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON ({e}): {}",
            module.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let rules = json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect();
    (
        output.status.code().unwrap(),
        json["verdict"].as_str().unwrap().to_string(),
        rules,
    )
}

fn verdict(json: &serde_json::Value) -> String {
    json["verdict"].as_str().unwrap_or("none").to_string()
}

/// The `.deb` in `dir` whose name starts with `prefix`.
fn deb(dir: &Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(std::result::Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".deb"))
        })
}

fn lines(bundle: &Bundle, name: &str) -> Option<usize> {
    bundle.member(name).map(|data| {
        data.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    })
}

#[test]
fn collected_and_package_bundles_agree_with_the_live_check() {
    let Some(kernel) = support::vm_kernel(TEST) else {
        return;
    };
    let Some(run) = support::run_guest(TEST, "facts-bundle.sh", &kernel)
        .kmods()
        .lpcheck()
        .timeout(600)
        .boot()
    else {
        return;
    };
    let get = |key: &str| run.get(key).to_string();
    let work = support::guest::work_dir(TEST, kernel.release());
    let kmod = run.kmod();
    assert_eq!(get("done"), "yes");
    assert_eq!(get("collect_rc"), "0", "{}", run.text("collect.txt"));
    let collected_path = run.path("facts.tar.zst");
    let collected = Bundle::read(&collected_path).unwrap();
    let release = collected.release().to_string();
    let kallsyms =
        String::from_utf8_lossy(collected.member(member::KALLSYMS).unwrap()).into_owned();
    assert!(
        kallsyms.contains("\t[lpc_target]"),
        "the collected kallsyms lacks lpc_target"
    );
    assert!(
        collected.member(member::FTRACE).is_some(),
        "{:?}",
        collected.manifest.unknown
    );
    let stacks =
        String::from_utf8_lossy(collected.member(member::KTHREAD_STACKS).unwrap()).into_owned();
    assert!(
        stacks
            .lines()
            .any(|l| l.split('\t').nth(1) == Some("kthreadd")),
        "{stacks}"
    );

    let cache = kernel.dir();
    let package = match (
        deb(&cache.join("debs"), &format!("linux-image-{release}_")),
        deb(&cache.join("dbg"), &format!("linux-image-{release}-dbg_")),
    ) {
        (Some(image), Some(dbg)) => {
            let path = work.join("package.tar.zst");
            let started = Instant::now();
            let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
                .args(["facts", "from-package"])
                .arg(image)
                .arg(dbg)
                .arg("-o")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}",
                describe("facts from-package", &output)
            );
            eprintln!(
                "vm_facts: from-package took {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Some(path)
        }
        _ => {
            eprintln!(
                "vm_facts: no linux-image-{release}{{,-dbg}} .deb in {}: the package column is skipped",
                cache.display()
            );
            None
        }
    };

    let mut table = vec![format!(
        "{:22} {:13} {:13} {:13}",
        "module", "live", "collected", "package"
    )];
    let mut modules: Vec<String> = std::fs::read_dir(kmod)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".ko").map(str::to_string))
        .filter(|n| n.starts_with("lp-"))
        .collect();
    modules.sort();
    assert!(modules.len() >= 11, "{modules:?}");
    for name in &modules {
        let module = kmod.join(format!("{name}.ko"));
        let live = run.json(&format!("live-{name}.json"));
        let host = check_with(&module, &collected_path);
        if host.2.iter().any(|rule| rule == "kthread-resting-place") {
            // The bundle holds the kthreads' stacks, which the live check does not read: it
            // sees a kthread sleeping in the target, whose transition can never complete (the
            // kernel's own outcome for lp-target-stall), and rejects what the live check passed.
            assert_eq!(host.1, "reject", "{name}: a kthread's resting place");
        } else {
            assert_eq!(verdict(&live), host.1, "{name}: live vs bundle on the host");
            assert_eq!(
                get(&format!("live_{name}_rc")),
                host.0.to_string(),
                "{name}"
            );
        }
        let packaged = package.as_ref().map(|p| check_with(&module, p).1);
        if let Some(packaged) = &packaged {
            if MODULE_TARGETS.contains(&name.as_str()) {
                assert_eq!(
                    packaged, "inconclusive",
                    "{name}: a package has no module symbols"
                );
            } else {
                assert_eq!(&verdict(&live), packaged, "{name}: live vs package bundle");
            }
        }
        table.push(format!(
            "{name:22} {:13} {:13} {:13}",
            verdict(&live),
            host.1,
            packaged.as_deref().unwrap_or("-")
        ));
    }
    let guest = run.json("bundle-lp-cmdline.json");
    let live = run.json("live-lp-cmdline.json");
    assert_eq!(
        verdict(&guest),
        verdict(&live),
        "lp-cmdline: bundle in the guest vs live"
    );
    assert_eq!(get("bundle_lp-cmdline_rc"), get("live_lp-cmdline_rc"));
    eprintln!("{}", table.join("\n"));
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or_default();
    eprintln!(
        "vm_facts: in the guest: collect {} ms, live check {} ms for {} modules, one bundle check {} ms; collected bundle {} bytes",
        get("collect_ms"),
        get("live_check_ms"),
        modules.len(),
        get("bundle_check_ms"),
        size(&collected_path)
    );
    if let Some(path) = &package {
        let packaged = Bundle::read(path).unwrap();
        eprintln!("vm_facts: package bundle {} bytes", size(path));
        for (what, a, b) in [
            (
                "kallsyms lines",
                lines(&collected, member::KALLSYMS),
                lines(&packaged, member::KALLSYMS),
            ),
            (
                "ftrace list (available_filter_functions vs __mcount_loc)",
                lines(&collected, member::FTRACE),
                lines(&packaged, member::MCOUNT_SITES),
            ),
            (
                "btf/vmlinux bytes",
                collected.member(member::BTF).map(<[u8]>::len),
                packaged.member(member::BTF).map(<[u8]>::len),
            ),
        ] {
            eprintln!("vm_facts: {what}: collected {a:?}, package {b:?}");
        }
    }
}
