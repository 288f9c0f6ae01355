//! The live side on a 7.x kernel with upstream-built patches: boots the 7.2 kernel of
//! `../shared/corpus/real-builders/klp-build-7.2.13-klpb` (its `bzImage.xz`, decompressed under
//! target/) with the busybox initramfs and, for each of its three klp-build modules, runs
//! `lpcheck watch --once`, `apply` (refused first: that small kernel has no debugfs, securityfs or
//! module signing, so those preflight facts are unknown and the gate fails closed), `apply
//! --accept-unknown`, `status` and `revert` in the guest (`tests/vm/guest/klp-build-apply.sh`),
//! and checks what the patched functions showed in between.
//!
//! Skipped, with the reason printed, when QEMU or the corpus is absent; `LPCHECK_VM_REQUIRED=1`
//! turns that into a failure.

mod support;

use std::process::Command;

use support::guest::Guest;
use support::{missing_qemu, run_ok};

/// This test's name, for skips.
const TEST: &str = "vm_klp_build";

/// The release of the corpus's kernel.
const RELEASE: &str = "7.2.13-klpb";

/// The klp-build modules, each with what its patched function shows once applied.
const MODULES: &[(&str, &str)] = &[
    ("klp-cmdline", " klpb_cmdline=patched"),
    (
        "klp-version-callbacks-shadow",
        "klpb_version_shadow_reads=1",
    ),
    ("klp-modules-sympos", "[klpb_m_show]"),
];

#[test]
fn klp_build_modules_apply_and_revert_on_their_7_2_kernel() {
    if let Some(reason) = missing_qemu() {
        return support::skip(TEST, &reason);
    }
    let corpus = support::real_builders_corpus().join("klp-build-7.2.13-klpb");
    if !corpus.join("bzImage.xz").is_file() {
        return support::skip(TEST, &format!("{} not found", corpus.display()));
    }
    let work = support::guest::work_dir(TEST, RELEASE);
    let image = work.join("bzImage");
    let kmod = work.join("kmod");
    std::fs::create_dir_all(&kmod).unwrap();
    let decompressed = run_ok(
        "xz -dc bzImage.xz",
        Command::new("xz").arg("-dc").arg(corpus.join("bzImage.xz")),
    );
    std::fs::write(&image, decompressed.stdout).unwrap();
    for (module, _) in MODULES {
        let name = format!("{module}.ko");
        std::fs::copy(corpus.join(&name), kmod.join(&name)).unwrap();
    }
    let Some(run) = Guest::booting_image(TEST, "klp-build-apply.sh", &image, RELEASE)
        .kmod_dir(&kmod)
        .lpcheck()
        .timeout(300)
        .boot()
    else {
        return;
    };
    let get = |key: &str| run.get(key);
    let text = |name: &str| run.text(name);
    eprintln!(
        "{TEST}: guest seconds per module: {}",
        MODULES
            .iter()
            .map(|(m, _)| format!("{m} {}", get(&format!("{m}_seconds"))))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(get("release"), RELEASE);

    for (module, marker) in MODULES {
        let key = |step: &str| format!("{module}{step}");
        let patch = module.replace('-', "_");

        let watch = text(&format!("{module}-watch.txt"));
        assert_eq!(get(&key("-watch_rc")), "0", "{watch}");
        assert!(
            watch.contains(&format!("lpcheck watch {patch}: 0 blocking task(s)")),
            "{watch}"
        );

        let refused = text(&format!("{module}-refused.txt"));
        assert_eq!(get(&key("-refused_rc")), "1", "{refused}");
        assert!(
            refused.contains("unknown kprobes: ") && refused.contains("nothing was loaded"),
            "{refused}"
        );
        assert_eq!(get(&key("_refused_loaded")), "no");

        let apply = text(&format!("{module}-apply.txt"));
        assert_eq!(get(&key("-apply_rc")), "0", "{apply}");
        assert!(
            apply.contains("patch transition complete")
                && apply
                    .contains("pass    kernel-release: running 7.2.13-klpb = vermagic 7.2.13-klpb")
                && apply.contains("pass    targets-ftraceable"),
            "{apply}"
        );
        let before = get(&key("_before"));
        let patched = get(&key("_patched"));
        assert!(
            patched.contains(marker) && !before.contains(marker),
            "{module}: before {before:?}, patched {patched:?}"
        );
        assert_eq!(get(&key("_transition")), "0");
        // klp-build sets `replace` in its init code; the kernel shows it.
        assert_eq!(get(&key("_replace")), "1");

        let status = text(&format!("{module}-status.txt"));
        assert_eq!(get(&key("-status_rc")), "0", "{status}");
        assert!(
            status.contains(&format!("{patch}: enabled=yes transition=no replace=yes")),
            "{status}"
        );

        let revert = text(&format!("{module}-revert.txt"));
        assert_eq!(get(&key("-revert_rc")), "0", "{revert}");
        assert!(
            revert.contains("unpatch transition complete") && revert.contains("module unloaded"),
            "{revert}"
        );
        assert_eq!(get(&key("_after")), before, "{module}: original code back");
        assert_eq!(get(&key("_loaded_after")), "no");
    }

    // The kernel ran klp-build's callbacks around the patch and unpatch transitions.
    let dmesg = text("klp-dmesg.txt");
    for line in [
        "klpb: pre-patch callback (obj vmlinux)",
        "klpb: post-patch callback",
        "klpb: pre-unpatch callback",
        "klpb: post-unpatch callback, shadow variables freed",
    ] {
        assert!(dmesg.contains(line), "{line}:\n{dmesg}");
    }
}
