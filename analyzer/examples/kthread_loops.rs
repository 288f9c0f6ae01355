//! Prints the kthreads `lpcheck check --vmlinux` finds statically in an image: each entry with
//! where it is created and the functions it rests in, then the counts and the time taken.
//!
//! `cargo run --release -p lpcheck-analyzer --example kthread_loops -- VMLINUX [KALLSYMS]`

use std::path::PathBuf;
use std::time::Instant;

use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
use lpcheck_analyzer::kernel::kthread_loops;
use lpcheck_analyzer::model::Fact;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let image = args
        .next()
        .ok_or("usage: kthread_loops VMLINUX [KALLSYMS]")?;
    let kallsyms = args.next().map(|p| Kallsyms::from_file(&p)).transpose()?;
    let started = Instant::now();
    let found = kthread_loops::load(&image, kallsyms.as_ref())?;
    let elapsed = started.elapsed();
    let loops = match found {
        Fact::Known { value, source } => {
            println!("# from {source}");
            value
        }
        Fact::Unknown { reason } => return Err(reason.into()),
    };
    let mut resting_entries = 0;
    for (index, entry) in loops.entries().iter().enumerate() {
        let places: Vec<&str> = loops
            .resting_places()
            .filter(|place| loops.resting_in(place).any(|(_, rest)| rest.entry == index))
            .collect();
        resting_entries += usize::from(!places.is_empty());
        let created: Vec<String> = entry
            .created
            .iter()
            .map(|c| format!("{} via {}", c.by, c.via))
            .collect();
        println!(
            "{}\tcreated by {}\trests in {}",
            entry.label(),
            created.join(", "),
            if places.is_empty() {
                "-".to_string()
            } else {
                places.join(" ")
            }
        );
    }
    for line in loops.unresolved() {
        println!("# unresolved: {line}");
    }
    println!(
        "# {} entries ({resting_entries} with a resting place), {} resting places, {} creation calls unresolved, in {:.2} s",
        loops.entries().len(),
        loops.resting_places().count(),
        loops.unresolved().len(),
        elapsed.as_secs_f64()
    );
    Ok(())
}
