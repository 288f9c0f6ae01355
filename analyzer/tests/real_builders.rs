//! The modules in `../shared/corpus/real-builders` (from the repository root), made by the real
//! builders and loaded by the kernels they were built for: kpatch-build output for Debian's
//! 6.1.0-57 and upstream klp-build output for a 7.2 kernel. Each module must be read as
//! `readelf -SW -rW -sW` and `objdump` show it: format, every patched function with its object and
//! `old_sympos`, callbacks, the `.klp.rela.*` sections with their entry counts, the `.klp.sym.*`
//! symbols, and the shadow-variable API it imports.

use std::path::{Path, PathBuf};

use lpcheck_analyzer::kernel::kallsyms::KernelObject;
use lpcheck_analyzer::patch::{PatchFormat, PatchModule};

const CORPUS: &str = "shared/corpus/real-builders";

/// The corpus directory, or `None` (with the reason printed) when it is absent.
fn corpus() -> Option<PathBuf> {
    // `../shared` from the repository root in CI; a worktree may sit one level deeper.
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let found = repo_root
        .ancestors()
        .skip(1)
        .map(|dir| dir.join(CORPUS))
        .find(|dir| dir.join("README.md").is_file());
    if found.is_none() {
        eprintln!(
            "SKIPPED real builders: no {CORPUS} beside {} or above it",
            repo_root.display()
        );
    }
    found
}

/// What a module was verified by hand to hold.
struct Expected {
    module: &'static str,
    format: PatchFormat,
    /// (old_name, old_sympos, replacement), all in vmlinux.
    functions: &'static [(&'static str, u64, &'static str)],
    /// (pre_patch, post_patch, pre_unpatch, post_unpatch).
    callbacks: [Option<&'static str>; 4],
    /// (.klp.rela section, entries).
    klp_relas: &'static [(&'static str, usize)],
    /// `.klp.sym.vmlinux.<name>,<pos>` symbols.
    klp_syms: &'static [(&'static str, u64)],
    /// Imported `klp_shadow_*` functions.
    shadow_api: &'static [&'static str],
}

const NO_CALLBACKS: [Option<&str>; 4] = [None; 4];

const EXPECTED: &[Expected] = &[
    Expected {
        module: "kpatch-build-6.1.0-57/kp-cmdline.ko",
        format: PatchFormat::KpatchBuild,
        // .kpatch.funcs: sympos field (offset 0x20) = 1; create-diff-object numbers local
        // symbols from 1 even when unique.
        functions: &[("cmdline_proc_show", 1, "cmdline_proc_show")],
        callbacks: NO_CALLBACKS,
        klp_relas: &[(".klp.rela.vmlinux..text.cmdline_proc_show", 1)],
        klp_syms: &[("saved_command_line", 0)],
        shadow_api: &[],
    },
    Expected {
        module: "kpatch-build-6.1.0-57/kp-meminfo.ko",
        format: PatchFormat::KpatchBuild,
        functions: &[("meminfo_proc_show", 1, "meminfo_proc_show")],
        callbacks: NO_CALLBACKS,
        klp_relas: &[(".klp.rela.vmlinux..text.meminfo_proc_show", 49)],
        klp_syms: &[
            ("si_swapinfo", 0),
            ("seq_put_decimal_ull_width", 0),
            ("zswap_pool_total_size", 0),
            ("zswap_stored_pages", 0),
            ("vm_commit_limit", 0),
            ("vmalloc_nr_pages", 0),
            ("pcpu_nr_pages", 0),
            ("num_poisoned_pages", 0),
            ("hugetlb_report_meminfo", 0),
            ("arch_report_meminfo", 0),
        ],
        shadow_api: &[],
    },
    Expected {
        module: "klp-build-7.2.13-klpb/klp-cmdline.ko",
        format: PatchFormat::KlpBuild,
        functions: &[("cmdline_proc_show", 0, "cmdline_proc_show")],
        callbacks: NO_CALLBACKS,
        klp_relas: &[(".klp.rela.vmlinux..text", 1)],
        klp_syms: &[("saved_command_line", 0)],
        shadow_api: &[],
    },
    Expected {
        module: "klp-build-7.2.13-klpb/klp-version-callbacks-shadow.ko",
        format: PatchFormat::KlpBuild,
        functions: &[("version_proc_show", 0, "version_proc_show")],
        callbacks: [
            Some("klpb_pre_patch"),
            Some("klpb_post_patch"),
            Some("klpb_pre_unpatch"),
            Some("klpb_post_unpatch"),
        ],
        klp_relas: &[(".klp.rela.vmlinux..text", 1)],
        klp_syms: &[("linux_proc_banner", 0)],
        shadow_api: &["klp_shadow_free_all", "klp_shadow_get_or_alloc"],
    },
    Expected {
        module: "klp-build-7.2.13-klpb/klp-modules-sympos.ko",
        format: PatchFormat::KlpBuild,
        // Two local `m_show` in the 7.2 kallsyms; the first (0xffffffff812e9760) is patched.
        functions: &[("m_show", 1, "m_show")],
        callbacks: NO_CALLBACKS,
        klp_relas: &[(".klp.rela.vmlinux..text", 1)],
        klp_syms: &[("module_flags", 0)],
        shadow_api: &[],
    },
];

#[test]
fn real_builder_modules_are_read_as_readelf_shows_them() {
    let Some(dir) = corpus() else { return };
    for expected in EXPECTED {
        let path = dir.join(expected.module);
        let patch = PatchModule::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let what = expected.module;
        assert_eq!(patch.format, Some(expected.format), "{what}: format");
        assert_eq!(patch.objects.len(), 1, "{what}: one patched object");
        let object = &patch.objects[0];
        assert_eq!(object.object, KernelObject::Vmlinux, "{what}: object");
        let functions: Vec<_> = object
            .functions
            .iter()
            .map(|f| (f.old_name.as_str(), f.old_sympos, f.new_func.as_deref()))
            .collect();
        let want: Vec<_> = expected
            .functions
            .iter()
            .map(|&(name, pos, new)| (name, pos, Some(new)))
            .collect();
        assert_eq!(functions, want, "{what}: patched functions");
        let callbacks = &object.callbacks;
        let got = [
            callbacks.pre_patch.as_deref(),
            callbacks.post_patch.as_deref(),
            callbacks.pre_unpatch.as_deref(),
            callbacks.post_unpatch.as_deref(),
        ];
        assert_eq!(got, expected.callbacks, "{what}: callbacks");
        // Both builders set `replace` in the init code on a kzalloc'ed klp_patch, so it
        // cannot be read from the file.
        assert_eq!(patch.replace, None, "{what}: replace is not in the file");
        assert!(patch.states.is_empty(), "{what}: no klp_state");
        let relas: Vec<_> = patch
            .klp_relocation_sections
            .iter()
            .map(|s| (s.name.as_str(), s.count))
            .collect();
        assert_eq!(relas, expected.klp_relas, "{what}: .klp.rela sections");
        assert!(
            patch
                .klp_relocation_sections
                .iter()
                .all(|s| s.object == KernelObject::Vmlinux),
            "{what}: .klp.rela object"
        );
        let syms: Vec<_> = patch
            .klp_symbols
            .iter()
            .map(|s| (s.name.as_str(), s.sympos))
            .collect();
        assert_eq!(syms, expected.klp_syms, "{what}: .klp.sym symbols");
        let shadow: Vec<_> = patch
            .imports
            .iter()
            .map(String::as_str)
            .filter(|name| name.starts_with("klp_shadow_"))
            .collect();
        assert_eq!(shadow, expected.shadow_api, "{what}: shadow-variable API");
        assert!(
            patch.imports.iter().any(|name| name == "klp_enable_patch"),
            "{what}: enables itself"
        );
    }
}
