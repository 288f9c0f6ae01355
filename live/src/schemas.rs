//! The JSON Schemas of lpcheck's outputs, derived from the result types (`schemars`), one per
//! command: `docs/schemas/<name>.json`. A test keeps the checked-in files equal to what the
//! types derive (`LPCHECK_BLESS=1` rewrites them); the CLI tests validate real output against
//! them.

use lpcheck_analyzer::check::CheckReport;
use lpcheck_analyzer::diff::{DiffReport, DiffVerdict};
use lpcheck_analyzer::report::envelope::{CommandName, Envelope, SCHEMA_VERSION};
use lpcheck_analyzer::report::Verdict;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

use crate::codes::CodeList;
use crate::install::listing::{ListVerdict, Listing};
use crate::kexec::plan::{KexecPlan, KexecVerdict};
use crate::preflight::{PreflightOutcome, PreflightVerdict};
use crate::status::{Status, StatusVerdict};
use crate::watch_report::{WatchSnapshot, WatchVerdict};

/// The schema of `T` as lpcheck writes it (the serialize contract: a field it leaves out when
/// empty is optional), titled with what prints it.
fn titled<T: JsonSchema>(title: &str) -> Schema {
    let mut schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    schema.insert(
        "description".into(),
        format!("lpcheck JSON schema version {SCHEMA_VERSION} (docs/json.md)").into(),
    );
    schema
}

/// The schema of `command`'s envelope, whose `command` field is that command's name.
fn envelope<V: JsonSchema, P: JsonSchema>(command: CommandName, title: &str) -> Schema {
    let mut schema = titled::<Envelope<V, P>>(title);
    let name = serde_json::to_value(command).expect("command names serialize");
    if let Some(properties) = schema
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        properties.insert(
            "command".into(),
            serde_json::json!({ "description": "The command that printed it.", "const": name }),
        );
    }
    schema
}

/// Every output's schema by file name (without `.json`): the commands' envelopes, `codes`, and
/// one journal line.
pub fn all() -> Vec<(&'static str, Schema)> {
    vec![
        (
            "check",
            envelope::<Verdict, CheckReport>(CommandName::Check, "lpcheck check --format json"),
        ),
        (
            "diff",
            envelope::<DiffVerdict, DiffReport>(CommandName::Diff, "lpcheck diff --format json"),
        ),
        (
            "preflight",
            envelope::<PreflightVerdict, PreflightOutcome>(
                CommandName::Preflight,
                "lpcheck preflight --format json",
            ),
        ),
        (
            "watch",
            envelope::<WatchVerdict, WatchSnapshot>(
                CommandName::Watch,
                "lpcheck watch --format json (one per snapshot)",
            ),
        ),
        (
            "status",
            envelope::<StatusVerdict, Status>(CommandName::Status, "lpcheck status --format json"),
        ),
        (
            "kexec",
            envelope::<KexecVerdict, KexecPlan>(CommandName::Kexec, "lpcheck kexec --format json"),
        ),
        (
            "list",
            envelope::<ListVerdict, Listing>(CommandName::List, "lpcheck list --format json"),
        ),
        ("codes", titled::<CodeList>("lpcheck codes --format json")),
        ("journal", {
            let mut schema = crate::journal::line_schema(
                SchemaSettings::draft2020_12()
                    .for_serialize()
                    .into_generator(),
            );
            schema.insert(
                "title".into(),
                "one line of lpcheck's journal (apply, revert, kexec runs)".into(),
            );
            schema
        }),
    ]
}

/// A schema as the checked-in file holds it: pretty JSON with a final newline.
pub fn file_text(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("schemas serialize");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_schemas_match_the_types() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schemas");
        let schemas = all();
        if std::env::var_os("LPCHECK_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            for (name, schema) in &schemas {
                std::fs::write(dir.join(format!("{name}.json")), file_text(schema)).unwrap();
            }
        }
        for (name, schema) in &schemas {
            let path = dir.join(format!("{name}.json"));
            let found = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                found == file_text(schema),
                "{} is out of date with the types; rerun with LPCHECK_BLESS=1",
                path.display()
            );
        }
        let on_disk = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(
            on_disk,
            schemas.len(),
            "a file in {} has no type",
            dir.display()
        );
    }

    #[test]
    fn every_schema_is_a_valid_schema_that_requires_the_envelope() {
        for (name, schema) in all() {
            let value = serde_json::to_value(&schema).unwrap();
            jsonschema::meta::validate(&value)
                .unwrap_or_else(|error| panic!("{name}: not a valid JSON Schema: {error}"));
            let required: Vec<&str> = value["required"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: no required fields"))
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect();
            let common: &[&str] = match name {
                "codes" => &["schema_version", "codes"],
                "journal" => &["schema_version", "ts_ms", "run", "patch", "message"],
                _ => &["schema_version", "command", "verdict", "findings"],
            };
            for field in common {
                assert!(required.contains(field), "{name}: {field} is not required");
            }
        }
    }
}
