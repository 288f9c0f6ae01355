//! `lpcheck codes` and `lpcheck explain CODE`: the registry of diagnostic codes
//! (lpcheck-live's `codes`).

use anyhow::{Context, Result};
use lpcheck_live::codes::{self, CodeList};

use crate::cli::{CodesArgs, ExplainArgs, LiveFormat};

/// Prints every code; returns the exit code.
pub fn codes(args: &CodesArgs) -> Result<i32> {
    let list = CodeList::all();
    match args.format {
        LiveFormat::Human => print!("{}", list.render_human()),
        LiveFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&list).context("serializing the codes")?
        ),
    }
    Ok(0)
}

/// Prints the page of one code (of its successor for a retired code, said on stderr); an
/// unknown code is an error (exit 2).
pub fn explain(args: &ExplainArgs) -> Result<i32> {
    let code = codes::find(&args.code).map_err(anyhow::Error::msg)?;
    if let Some(old) = codes::retired(&args.code) {
        eprintln!(
            "note: {} ({}) is retired: apply runs `lpcheck preflight`'s check {} now",
            old.code, old.name, old.now
        );
    }
    print!("{}", code.markdown());
    Ok(0)
}
