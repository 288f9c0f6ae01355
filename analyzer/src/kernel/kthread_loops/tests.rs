//! The kthread analysis on a stand-in kernel built with gcc (`analyzer/tests/fixtures/kthreads/
//! kernel.c`, whose header lists the known answers), as a linked image with its symbol table
//! and BTF, and stripped with a kallsyms of its symbols. Skipped, with the reason printed, when
//! gcc or objcopy cannot be run.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/kthreads/kernel.c"
);

/// Runs a tool; `None` (with the reason printed) when it cannot be run at all.
fn run(test: &str, tool: &str, args: &[&str]) -> Option<Vec<u8>> {
    match Command::new(tool).args(args).output() {
        Ok(out) if out.status.success() => Some(out.stdout),
        Ok(out) => panic!(
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(error) => {
            lpcheck_testkit::skip(test, &format!("cannot run {tool}: {error}"));
            None
        }
    }
}

fn build(test: &str, dir: &Path) -> Option<PathBuf> {
    let image = dir.join("kernel");
    run(
        test,
        "gcc",
        &[
            "-O2",
            "-gbtf",
            "-fno-pie",
            "-no-pie",
            "-o",
            image.to_str()?,
            FIXTURE,
        ],
    )?;
    Some(image)
}

fn known(fact: Fact<KthreadLoops>) -> KthreadLoops {
    match fact {
        Fact::Known { value, .. } => value,
        Fact::Unknown { reason } => panic!("unknown: {reason}"),
    }
}

fn rests(loops: &KthreadLoops, function: &str) -> Vec<(String, Vec<String>)> {
    loops
        .resting_in(function)
        .map(|(entry, rest)| (entry.function.clone(), rest.path.clone()))
        .collect()
}

fn assert_known_answers(loops: &KthreadLoops) {
    let entries: Vec<(&str, Option<&str>, Option<&str>)> = loops
        .entries()
        .iter()
        .map(|e| {
            (
                e.function.as_str(),
                e.created[0].comm.as_deref(),
                e.host.as_deref(),
            )
        })
        .collect();
    for want in [
        ("waiter_thread", Some("waiter/%d"), None),
        ("napper_thread", Some("napper"), None),
        ("oneshot_thread", Some("oneshot"), None),
        ("demo_thread_fn", Some("demo/%u"), Some("smpboot_thread_fn")),
        ("smpboot_thread_fn", None, None),
    ] {
        assert!(entries.contains(&want), "{want:?} not in {entries:?}");
    }
    assert_eq!(entries.len(), 5, "{entries:?}");
    let smpboot = &loops
        .entries()
        .iter()
        .find(|e| e.function == "smpboot_thread_fn");
    assert_eq!(smpboot.unwrap().created[0].by, "__smpboot_create_thread");
    assert_eq!(smpboot.unwrap().created[0].via, "kthread_create_on_cpu");
    assert_eq!(
        rests(loops, "waiter_thread"),
        [(
            "waiter_thread".into(),
            vec!["waiter_thread".into(), "schedule".into()]
        )]
    );
    let nap = vec!["napper_thread".into(), "nap".into(), "schedule".into()];
    assert_eq!(rests(loops, "nap"), [("napper_thread".into(), nap.clone())]);
    assert_eq!(
        rests(loops, "napper_thread"),
        [("napper_thread".into(), nap)]
    );
    let hosted: Vec<String> = rests(loops, "smpboot_thread_fn")
        .into_iter()
        .map(|(entry, _)| entry)
        .collect();
    assert_eq!(hosted, ["demo_thread_fn", "smpboot_thread_fn"]);
    for not_resting in ["oneshot_thread", "busy_helper", "demo_thread_fn", "main"] {
        assert_eq!(rests(loops, not_resting), [], "{not_resting}");
    }
    assert!(loops.unresolved().is_empty(), "{:?}", loops.unresolved());
}

#[test]
fn finds_the_entries_and_resting_places_of_a_gcc_build() {
    const TEST: &str = "finds_the_entries_and_resting_places_of_a_gcc_build";
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(TEST, dir.path()) else {
        return;
    };
    assert_known_answers(&known(load(&image, None).unwrap()));
}

#[test]
fn a_stripped_build_reads_its_functions_from_kallsyms() {
    const TEST: &str = "a_stripped_build_reads_its_functions_from_kallsyms";
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = build(TEST, dir.path()) else {
        return;
    };
    let Some(nm) = run(TEST, "nm", &["-n", image.to_str().unwrap()]) else {
        return;
    };
    let stripped = dir.path().join("kernel.stripped");
    let Some(_) = run(
        TEST,
        "objcopy",
        &[
            "--strip-all",
            image.to_str().unwrap(),
            stripped.to_str().unwrap(),
        ],
    ) else {
        return;
    };
    let unknown = load(&stripped, None).unwrap();
    assert!(
        unknown
            .describe()
            .contains("no symbol table: pass --kallsyms"),
        "{}",
        unknown.describe()
    );
    // A kallsyms of the same build loaded 0x200000 higher (KASLR), with `_text` at `.text`.
    let text = Command::new("objdump")
        .args(["-h", image.to_str().unwrap()])
        .output()
        .ok()
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some(".text"))
                .and_then(|l| u64::from_str_radix(l.split_whitespace().nth(3)?, 16).ok())
        })
        .expect("objdump -h names .text");
    let shift = 0x20_0000;
    let mut kallsyms = format!("{:016x} T _text\n", text + shift);
    for line in String::from_utf8(nm).unwrap().lines() {
        let mut fields = line.split_whitespace();
        let (Some(address), Some(kind), Some(name)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if let Ok(address) = u64::from_str_radix(address, 16) {
            writeln!(kallsyms, "{:016x} {kind} {name}", address + shift).unwrap();
        }
    }
    let table = Kallsyms::parse(&kallsyms, Path::new("kallsyms")).unwrap();
    let loops = known(load(&stripped, Some(&table)).unwrap());
    let napper: Vec<_> = rests(&loops, "nap");
    assert_eq!(napper.len(), 1, "{napper:?}");
    assert!(loops
        .entries()
        .iter()
        .any(|e| e.function == "waiter_thread"));
}

#[test]
fn an_image_without_creation_functions_is_unknown() {
    const TEST: &str = "an_image_without_creation_functions_is_unknown";
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("plain.c");
    std::fs::write(&source, "int main(void) { return 0; }\n").unwrap();
    let image = dir.path().join("plain");
    let Some(_) = run(
        TEST,
        "gcc",
        &[
            "-O2",
            "-no-pie",
            "-o",
            image.to_str().unwrap(),
            source.to_str().unwrap(),
        ],
    ) else {
        return;
    };
    let fact = load(&image, None).unwrap();
    assert!(
        fact.describe()
            .contains("none of the kthread creation functions"),
        "{}",
        fact.describe()
    );
    let error = load(Path::new(FIXTURE), None).unwrap_err().to_string();
    assert!(error.contains("kernel.c"), "{error}");
}

/// Debian 12's 6.1 image (stripped) with the kallsyms of a guest booted on it (`vmlinux` and
/// `facts/kallsyms` of `$LPCHECK_KERNEL_CACHE`, default `target/kernel`, fetched by the VM tests): the
/// kthreads checked by hand against the kernel's source and the image's disassembly.
#[test]
fn debians_kthreads_rest_in_their_loops() {
    const TEST: &str = "debians_kthreads_rest_in_their_loops";
    let cache = std::env::var_os("LPCHECK_KERNEL_CACHE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/kernel"),
        PathBuf::from,
    );
    let (image, kallsyms) = (cache.join("vmlinux"), cache.join("facts/kallsyms"));
    if !image.exists() || !kallsyms.exists() {
        lpcheck_testkit::skip_optional(
            TEST,
            &format!("no {} or {}", image.display(), kallsyms.display()),
        );
        return;
    }
    let table = Kallsyms::from_file(&kallsyms).unwrap();
    let loops = known(load(&image, Some(&table)).unwrap());
    let resting = |function: &str| -> Vec<String> {
        loops
            .resting_in(function)
            .map(|(entry, _)| entry.function.clone())
            .collect()
    };
    assert_eq!(resting("kthreadd"), ["kthreadd"]);
    assert_eq!(resting("kswapd"), ["kswapd"]);
    assert_eq!(resting("devtmpfs_work_loop"), ["devtmpfsd"]);
    assert!(resting("worker_thread").contains(&"worker_thread".to_string()));
    let smpboot = resting("smpboot_thread_fn");
    for client in ["run_ksoftirqd", "cpu_stopper_thread", "cpuhp_thread_fun"] {
        assert!(smpboot.contains(&client.to_string()), "{smpboot:?}");
    }
    assert!(resting("kthread").is_empty(), "kthread() does not loop");
    eprintln!(
        "{TEST}: {} entries, {} resting places, {} unresolved creation calls",
        loops.entries().len(),
        loops.resting_places().count(),
        loops.unresolved().len()
    );
}
