//! Writes synthetic livepatch modules (from `lpcheck_analyzer::testing`) into a directory, as
//! seeds for the `patch_module` fuzz target: one per layout, with kernel, local, `.klp.sym` and
//! data uses, a module-object target, atomic replace and `.init.text` code.
//!
//! `cargo run -p lpcheck-analyzer --features test-support --example fuzz_seeds -- DIR`

use std::path::PathBuf;

use lpcheck_analyzer::testing::{Data, Func, Function, Layout, ModuleSpec, Use};

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .expect("usage: fuzz_seeds OUTPUT_DIR"),
    );
    std::fs::create_dir_all(&dir)?;
    for layout in [Layout::Livepatch, Layout::Kpatch, Layout::KlpBuild] {
        let mut spec = ModuleSpec::patching("cmdline_proc_show");
        spec.layout = layout;
        spec.replace = layout == Layout::Livepatch;
        spec.replacement().uses.extend([
            Use::CallLocal("helper"),
            Use::CallKlp("vmlinux", "saved_command_line", 0),
            Use::ReadData("counter"),
        ]);
        spec.functions.push(Function {
            name: "helper",
            section: ".text",
            uses: vec![Use::CallKernel("printk")],
        });
        spec.functions.push(Function {
            name: "setup",
            section: ".init.text",
            uses: Vec::new(),
        });
        spec.data.push(Data {
            name: "counter",
            section: ".data",
            size: 8,
        });
        spec.objects.push((
            Some("ext4"),
            vec![Func {
                old_name: "ext4_fill_super",
                sympos: 2,
                new_func: "helper",
            }],
        ));
        std::fs::write(dir.join(format!("synthetic-{layout:?}.ko")), spec.build())?;
    }
    Ok(())
}
