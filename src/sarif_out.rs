//! What the CLI adds to SARIF output: the base directory of relative URIs, and a log for a run
//! that could not analyze its input (exit 2 still writes a valid SARIF file saying why).

use std::path::PathBuf;

use lpcheck_analyzer::diff::rules as diff_rules;
use lpcheck_analyzer::report::{sarif, RuleDescriptor};
use lpcheck_analyzer::rules::RuleSet;

use crate::cli::{Command, Format};

/// The directory SARIF URIs are relative to: the working directory (the checkout's root when
/// CI runs lpcheck there).
pub fn base_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

/// The SARIF log of a `check` or `diff` that asked for SARIF and failed with `error` (the whole
/// chain of causes); `None`
/// for other commands and formats.
pub fn failure_log(command: &Command, error: &str, exit_code: i32) -> Option<String> {
    let (name, rules) = match command {
        Command::Check(args) if args.format == Format::Sarif => {
            let rules = lpcheck_live::inputs::rule_set(&args.rules)
                .unwrap_or_else(|_| RuleSet::default_rules());
            let rules: Vec<RuleDescriptor> = rules
                .rules
                .iter()
                .filter(|rule| rule.enabled)
                .map(|rule| rule.descriptor())
                .collect();
            ("check", rules)
        }
        Command::Diff(args) if args.format == Format::Sarif => (
            "diff",
            diff_rules::ALL
                .iter()
                .map(|rule| rule.descriptor())
                .collect(),
        ),
        _ => return None,
    };
    let base_dir = base_dir();
    let invocation = sarif::Invocation {
        base_dir: &base_dir,
        exit_code,
    };
    Some(sarif::render_failure(name, &rules, error, &invocation) + "\n")
}
