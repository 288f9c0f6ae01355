//! `lpcheck check` on the real builders' modules in `../shared/corpus/real-builders`, against the
//! facts read in a guest of the kernel each was built for. Every one of them was loaded by that
//! kernel and its transition completed (the corpus README), so the verdict must be accept, with
//! each target resolved to the address the kernel's kallsyms gives it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{run_ok, skip};

const TEST: &str = "real builders check";

/// A target as the report must give it: object, function, sympos, address.
type ExpectedTarget = (&'static str, &'static str, u64, &'static str);

/// One kernel's directory of the corpus and the release its facts were read from.
struct Kernel {
    dir: &'static str,
    release: &'static str,
    /// (module, [(object, function, sympos, address)]).
    modules: &'static [(&'static str, &'static [ExpectedTarget])],
}

const KERNELS: &[Kernel] = &[
    Kernel {
        dir: "kpatch-build-6.1.0-57",
        release: "6.1.0-57-amd64",
        modules: &[
            (
                "kp-cmdline.ko",
                &[("vmlinux", "cmdline_proc_show", 1, "0xffffffff814105a0")],
            ),
            (
                "kp-meminfo.ko",
                &[("vmlinux", "meminfo_proc_show", 1, "0xffffffff81410a20")],
            ),
        ],
    },
    Kernel {
        dir: "klp-build-7.2.13-klpb",
        release: "7.2.13-klpb",
        modules: &[
            (
                "klp-cmdline.ko",
                &[("vmlinux", "cmdline_proc_show", 0, "0xffffffff81431e90")],
            ),
            (
                "klp-version-callbacks-shadow.ko",
                &[("vmlinux", "version_proc_show", 0, "0xffffffff81433490")],
            ),
            (
                "klp-modules-sympos.ko",
                &[("vmlinux", "m_show", 1, "0xffffffff812e9760")],
            ),
        ],
    },
];

fn corpus() -> PathBuf {
    support::real_builders_corpus()
}

/// Decompresses `dir/name.xz` into `into/name`.
fn unxz(dir: &Path, name: &str, into: &Path) -> PathBuf {
    let out = into.join(name);
    let data = run_ok(
        &format!("xz -dc {name}.xz"),
        Command::new("xz")
            .arg("-dc")
            .arg(dir.join(format!("{name}.xz"))),
    )
    .stdout;
    std::fs::write(&out, data).unwrap();
    out
}

#[test]
fn the_kernels_verdicts_are_lpchecks() {
    let corpus = corpus();
    if !corpus.join("README.md").is_file() {
        skip(TEST, &format!("{} not found", corpus.display()));
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    for kernel in KERNELS {
        let dir = corpus.join(kernel.dir);
        let facts = scratch.path().join(kernel.dir);
        std::fs::create_dir_all(&facts).unwrap();
        let kallsyms = unxz(&dir, "kallsyms", &facts);
        let ftrace = unxz(&dir, "available_filter_functions", &facts);
        for (module, targets) in kernel.modules {
            let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
                .arg("check")
                .arg(dir.join(module))
                .arg("--kallsyms")
                .arg(&kallsyms)
                .arg("--ftrace-functions")
                .arg(&ftrace)
                .args(["--kernel-release", kernel.release, "--format", "json"])
                .output()
                .unwrap();
            let what = format!("{}/{module}", kernel.dir);
            let report: serde_json::Value = serde_json::from_slice(&output.stdout)
                .unwrap_or_else(|e| panic!("{what}: {e}\n{}", support::describe(&what, &output)));
            assert_eq!(
                output.status.code(),
                Some(0),
                "{what}: the kernel accepted it\n{report:#}"
            );
            assert_eq!(report["verdict"], "accept", "{what}");
            assert_eq!(report["tally"]["warnings"], 0, "{what}: {report:#}");
            let got: Vec<_> = report["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["object"].as_str().unwrap().to_string(),
                        t["function"].as_str().unwrap().to_string(),
                        t["sympos"].as_u64().unwrap(),
                        t["address"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            let want: Vec<_> = targets
                .iter()
                .map(|&(o, f, p, a)| (o.to_string(), f.to_string(), p, a.to_string()))
                .collect();
            assert_eq!(got, want, "{what}: targets");
        }
    }
}

#[test]
fn a_patch_checked_against_the_other_kernel_is_rejected() {
    let corpus = corpus();
    if !corpus.join("README.md").is_file() {
        skip(TEST, &format!("{} not found", corpus.display()));
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let dir = corpus.join("klp-build-7.2.13-klpb");
    let kallsyms = unxz(&dir, "kallsyms", scratch.path());
    let ftrace = unxz(&dir, "available_filter_functions", scratch.path());
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .arg("check")
        .arg(corpus.join("kpatch-build-6.1.0-57/kp-meminfo.ko"))
        .arg("--kallsyms")
        .arg(&kallsyms)
        .arg("--ftrace-functions")
        .arg(&ftrace)
        .args(["--kernel-release", "7.2.13-klpb", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    let rules: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        rules.iter().any(|r| r == "vermagic-mismatch"),
        "6.1 vermagic on 7.2: {rules:?}"
    );
}

/// Runs `check` on kp-cmdline.ko against its kernel's facts and `stacks` as the kthread stacks.
fn check_with_kthread_stacks(stacks: &str) -> (Option<i32>, serde_json::Value, String) {
    let dir = corpus().join("kpatch-build-6.1.0-57");
    let scratch = tempfile::tempdir().unwrap();
    let kallsyms = unxz(&dir, "kallsyms", scratch.path());
    let ftrace = unxz(&dir, "available_filter_functions", scratch.path());
    let tsv = scratch.path().join("kthread-stacks.tsv");
    std::fs::write(&tsv, stacks).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .arg("check")
        .arg(dir.join("kp-cmdline.ko"))
        .arg("--kallsyms")
        .arg(&kallsyms)
        .arg("--ftrace-functions")
        .arg(&ftrace)
        .arg("--kthread-stacks")
        .arg(&tsv)
        .args(["--kernel-release", "6.1.0-57-amd64", "--format", "json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (
        output.status.code(),
        report,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_kthreads_resting_place_is_rejected_with_the_kthread_named() {
    if !corpus().join("README.md").is_file() {
        return skip(TEST, &format!("{} not found", corpus().display()));
    }
    let quiet = "# pid\tcomm\tframes\n2\tkthreadd\tkthreadd ret_from_fork\n\
                 40\tkswapd0\tkswapd kthread ret_from_fork\n";
    let (code, report, _) = check_with_kthread_stacks(quiet);
    assert_eq!(
        code,
        Some(0),
        "no kthread rests in cmdline_proc_show: {report:#}"
    );

    let resting = format!(
        "{quiet}77\tlpc_reader\tseq_read_iter cmdline_proc_show lpc_loop kthread ret_from_fork\n"
    );
    let (code, report, _) = check_with_kthread_stacks(&resting);
    assert_eq!(code, Some(1), "{report:#}");
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "kthread-resting-place")
        .unwrap_or_else(|| panic!("no kthread-resting-place finding: {report:#}"));
    assert_eq!(finding["target"], "vmlinux:cmdline_proc_show");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("kthread lpc_reader[77]"),
        "{finding:#}"
    );
    assert!(
        finding["evidence"][0]
            .as_str()
            .unwrap()
            .starts_with("lpc_reader[77] sleeps in seq_read_iter <- cmdline_proc_show <- lpc_loop"),
        "{finding:#}"
    );
}

#[test]
fn a_malformed_kthread_stacks_file_is_named() {
    if !corpus().join("README.md").is_file() {
        return skip(TEST, &format!("{} not found", corpus().display()));
    }
    let (code, _, stderr) = check_with_kthread_stacks("40\tkswapd0\tkswapd+0x1a0/0x3c0\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("kthread-stacks.tsv") && stderr.contains("line 1"),
        "{stderr}"
    );
}
