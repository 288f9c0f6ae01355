//! SARIF 2.1.0 output, for code-scanning uploads (GitHub code scanning and other SARIF viewers).
//!
//! One run: every rule the command applied in `tool.driver.rules` (with descriptions, help and a
//! help URL), one result per finding with its level, message and location, waived findings as
//! accepted suppressions, and the invocation with its exit code. Paths under the base directory
//! (the working directory) become URIs relative to the `SRCROOT` base id; a finding on a
//! replacement function points at its source line when the module's DWARF has it, else at the
//! whole input file. A run that could not analyze its input is still a valid log: no results, an
//! unsuccessful invocation and an error notification saying why.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Finding, Renderable, RuleDescriptor, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The base id relative URIs are resolved against.
const SRCROOT: &str = "SRCROOT";

/// How lpcheck was run, for the log's `invocations`.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The directory relative URIs are relative to (`SRCROOT`): the working directory, usually
    /// the repository's root in CI.
    pub base_dir: &'a Path,
    /// The process's exit code.
    pub exit_code: i32,
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool,
    invocations: [SarifInvocation; 1],
    original_uri_base_ids: BaseIds,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct BaseIds {
    #[serde(rename = "SRCROOT")]
    srcroot: Uri,
}

#[derive(Serialize)]
struct Uri {
    uri: String,
}

#[derive(Serialize)]
struct RunProperties<'a> {
    command: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<&'a str>,
    /// Facts error rules needed and did not have (why the verdict is `inconclusive`).
    #[serde(rename = "missingFacts", skip_serializing_if = "Vec::is_empty")]
    missing_facts: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifInvocation {
    execution_successful: bool,
    exit_code: i32,
    working_directory: Uri,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Text,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Help,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

impl Text {
    /// A message text ending with a period, as SARIF viewers expect of a sentence.
    fn sentence(text: &str) -> Self {
        let text = text.trim_end();
        Self {
            text: if text.ends_with(['.', '!', '?']) {
                text.to_string()
            } else {
                format!("{text}.")
            },
        }
    }
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<SarifLocation<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<ResultProperties<'a>>,
}

#[derive(Serialize)]
struct ResultProperties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    evidence: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation<'a> {
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

/// A region: a source line, or a whole binary file by its bytes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase", untagged)]
enum Region {
    Lines {
        #[serde(rename = "startLine")]
        start_line: u32,
        #[serde(rename = "endLine")]
        end_line: u32,
    },
    Bytes {
        #[serde(rename = "byteOffset")]
        byte_offset: u64,
        #[serde(rename = "byteLength")]
        byte_length: u64,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation<'a> {
    name: &'a str,
    kind: &'static str,
}

#[derive(Serialize)]
struct Suppression<'a> {
    kind: &'static str,
    status: &'static str,
    justification: &'a str,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// Renders `report` as a SARIF 2.1.0 log (pretty-printed JSON). Reads the size of each input
/// file it names, for whole-file regions.
pub fn render(report: &dyn Renderable, invocation: &Invocation<'_>) -> String {
    let descriptors = report.rules();
    let mut rules: Vec<Rule> = descriptors.iter().map(rule_of).collect();
    let mut results = Vec::with_capacity(report.findings().len());
    for finding in report.findings() {
        let rule_index = match rules.iter().position(|r| r.id == finding.rule) {
            Some(index) => index,
            None => {
                rules.push(rule_of(&descriptor_of(finding)));
                rules.len() - 1
            }
        };
        results.push(result_of(
            finding,
            rule_index,
            report.primary_input(),
            invocation.base_dir,
        ));
    }
    let run = Run {
        tool: tool(rules),
        invocations: [SarifInvocation {
            execution_successful: true,
            exit_code: invocation.exit_code,
            working_directory: Uri {
                uri: directory_uri(invocation.base_dir),
            },
            tool_execution_notifications: Vec::new(),
        }],
        original_uri_base_ids: base_ids(invocation.base_dir),
        results,
        properties: RunProperties {
            command: report.command(),
            verdict: Some(report.verdict_label()),
            missing_facts: report.missing_facts(),
        },
    };
    to_text(run)
}

/// Renders the log of a run that could not analyze its input: the rules it would have applied,
/// no results, and `error` (the whole chain of causes) as the invocation's error notification.
pub fn render_failure(
    command: &'static str,
    rules: &[RuleDescriptor],
    error: &str,
    invocation: &Invocation<'_>,
) -> String {
    let run = Run {
        tool: tool(rules.iter().map(rule_of).collect()),
        invocations: [SarifInvocation {
            execution_successful: false,
            exit_code: invocation.exit_code,
            working_directory: Uri {
                uri: directory_uri(invocation.base_dir),
            },
            tool_execution_notifications: vec![Notification {
                level: "error",
                message: Text::sentence(error),
            }],
        }],
        original_uri_base_ids: base_ids(invocation.base_dir),
        results: Vec::new(),
        properties: RunProperties {
            command,
            verdict: None,
            missing_facts: Vec::new(),
        },
    };
    to_text(run)
}

fn to_text(run: Run<'_>) -> String {
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [run],
    };
    serde_json::to_string_pretty(&log).expect("SARIF model serializes")
}

fn tool(rules: Vec<Rule>) -> Tool {
    Tool {
        driver: Driver {
            name: "lpcheck",
            version: env!("CARGO_PKG_VERSION"),
            semantic_version: env!("CARGO_PKG_VERSION"),
            information_uri: "https://docs.kernel.org/livepatch/livepatch.html",
            rules,
        },
    }
}

fn base_ids(base_dir: &Path) -> BaseIds {
    BaseIds {
        srcroot: Uri {
            uri: directory_uri(base_dir),
        },
    }
}

/// A descriptor for a finding whose rule the report did not list (never for lpcheck's own
/// reports; keeps the log valid if it happens).
fn descriptor_of(finding: &Finding) -> RuleDescriptor {
    RuleDescriptor {
        id: finding.rule.clone(),
        name: finding.name.clone(),
        severity: finding.severity,
        summary: finding.name.replace('-', " "),
        hint: finding.hint.clone(),
        reference: finding.reference.clone(),
    }
}

fn rule_of(rule: &RuleDescriptor) -> Rule {
    let full = match &rule.hint {
        Some(hint) => format!(
            "{} {}",
            rule.summary,
            Text::sentence(&capitalized(hint)).text
        ),
        None => rule.summary.clone(),
    };
    let help_uri = rule.reference_url();
    let mut help = rule.hint.clone().unwrap_or_else(|| rule.summary.clone());
    if let Some(url) = &help_uri {
        help.push_str(&format!(" See {url}"));
    }
    Rule {
        id: rule.id.clone(),
        name: rule.name.clone(),
        short_description: Text::sentence(&rule.summary),
        full_description: Text::sentence(&full),
        help: Help {
            text: help,
            markdown: rule.markdown(),
        },
        help_uri,
        default_configuration: Configuration {
            level: level(rule.severity),
        },
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn result_of<'a>(
    finding: &'a Finding,
    rule_index: usize,
    input: &'a str,
    base_dir: &Path,
) -> SarifResult<'a> {
    let location = finding.location.as_ref();
    let file = location.map_or(input, |location| location.file.as_str());
    let physical_location = match location.and_then(|location| location.source.as_ref()) {
        Some(source) => PhysicalLocation {
            artifact_location: artifact(&source.file, base_dir),
            region: Region::Lines {
                start_line: source.line,
                end_line: source.line,
            },
        },
        None => PhysicalLocation {
            artifact_location: artifact(file, base_dir),
            region: whole_file(file, base_dir),
        },
    };
    let symbol = location.and_then(|location| location.symbol.as_deref());
    SarifResult {
        rule_id: &finding.rule,
        rule_index,
        level: level(finding.severity),
        message: Text::sentence(&finding.message),
        locations: vec![SarifLocation {
            physical_location,
            logical_locations: symbol
                .map(|name| LogicalLocation {
                    name,
                    kind: "function",
                })
                .into_iter()
                .collect(),
        }],
        suppressions: finding
            .waiver
            .iter()
            .map(|waiver| Suppression {
                kind: "external",
                status: "accepted",
                justification: &waiver.reason,
            })
            .collect(),
        properties: Some(ResultProperties {
            target: finding.target.as_deref(),
            evidence: &finding.evidence,
        }),
    }
}

/// The whole of a binary input: all its bytes when its size can be read, else its first line.
fn whole_file(file: &str, base_dir: &Path) -> Region {
    match std::fs::metadata(absolute(file, base_dir)) {
        Ok(metadata) if metadata.is_file() && metadata.len() > 0 => Region::Bytes {
            byte_offset: 0,
            byte_length: metadata.len(),
        },
        _ => Region::Lines {
            start_line: 1,
            end_line: 1,
        },
    }
}

fn absolute(file: &str, base_dir: &Path) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

/// A file's URI: relative to `SRCROOT` when it lies under the base directory, else an absolute
/// `file://` URI.
fn artifact(file: &str, base_dir: &Path) -> ArtifactLocation {
    let path = normalize(&absolute(file, base_dir));
    match path.strip_prefix(normalize(base_dir)) {
        Ok(relative) if !relative.as_os_str().is_empty() => ArtifactLocation {
            uri: encode(&relative.to_string_lossy()),
            uri_base_id: Some(SRCROOT),
        },
        _ => ArtifactLocation {
            uri: format!("file://{}", encode(&path.to_string_lossy())),
            uri_base_id: None,
        },
    }
}

/// The path with `.` and `..` components resolved lexically (no file system access).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A directory's absolute `file://` URI, ending with `/` as base URIs must.
fn directory_uri(dir: &Path) -> String {
    let path = normalize(dir).to_string_lossy().into_owned();
    let path = path.trim_end_matches('/');
    format!("file://{}/", encode(path))
}

/// Percent-encodes what a URI path may not hold as is (RFC 3986: unreserved characters and
/// `/` stay).
fn encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Location, SourceLine, Waiver};
    use super::*;

    struct Fixture(Vec<Finding>);

    impl Renderable for Fixture {
        fn command(&self) -> &'static str {
            "check"
        }
        fn verdict_label(&self) -> &'static str {
            "reject"
        }
        fn findings(&self) -> &[Finding] {
            &self.0
        }
        fn primary_input(&self) -> &str {
            "p.ko"
        }
        fn summary_lines(&self) -> Vec<String> {
            Vec::new()
        }
        fn rules(&self) -> Vec<RuleDescriptor> {
            ["LP001", "LP002", "LP003"]
                .into_iter()
                .map(|id| RuleDescriptor {
                    id: id.into(),
                    name: format!("{id}-name"),
                    severity: Severity::Error,
                    summary: "Flags something".into(),
                    hint: Some("Do another thing.".into()),
                    reference: Some("Documentation/livepatch/shadow-vars.rst (Intro)".into()),
                })
                .collect()
        }
    }

    fn finding(rule: &str, waived: bool) -> Finding {
        Finding {
            rule: rule.into(),
            name: format!("{rule}-name"),
            severity: Severity::Error,
            message: "m".into(),
            target: Some("vmlinux:f".into()),
            evidence: vec!["e".into()],
            hint: None,
            reference: None,
            location: Some(Location {
                symbol: Some("livepatch_f".into()),
                ..Location::file("p.ko")
            }),
            waiver: waived.then(|| Waiver {
                reason: "ok".into(),
                source: "w.toml".into(),
            }),
        }
    }

    fn render_in(report: &Fixture, base: &Path) -> serde_json::Value {
        let invocation = Invocation {
            base_dir: base,
            exit_code: 1,
        };
        serde_json::from_str(&render(report, &invocation)).unwrap()
    }

    #[test]
    fn every_rule_is_listed_and_results_indexed() {
        let report = Fixture(vec![
            finding("LP002", false),
            finding("LP001", true),
            finding("SITE1", false),
        ]);
        let log = render_in(&report, Path::new("/src/tree"));
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(
            rules.len(),
            4,
            "three declared rules and one from a finding"
        );
        assert_eq!(rules[0]["shortDescription"]["text"], "Flags something.");
        assert_eq!(
            rules[0]["fullDescription"]["text"],
            "Flags something Do another thing."
        );
        assert_eq!(
            rules[0]["helpUri"],
            "https://docs.kernel.org/livepatch/shadow-vars.html"
        );
        assert!(rules[0]["help"]["markdown"]
            .as_str()
            .unwrap()
            .starts_with("# LP001: LP001-name"));
        let results = run["results"].as_array().unwrap();
        assert_eq!(results[0]["ruleIndex"], 1);
        assert_eq!(results[1]["ruleIndex"], 0);
        assert_eq!(results[2]["ruleIndex"], 3);
        assert_eq!(results[1]["suppressions"][0]["status"], "accepted");
        assert!(results[0].get("suppressions").is_none());
        assert_eq!(results[0]["message"]["text"], "m.");
        let artifact = &results[0]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(artifact["uri"], "p.ko");
        assert_eq!(artifact["uriBaseId"], "SRCROOT");
        assert_eq!(
            run["originalUriBaseIds"]["SRCROOT"]["uri"],
            "file:///src/tree/"
        );
        assert_eq!(
            results[0]["locations"][0]["logicalLocations"][0]["name"],
            "livepatch_f"
        );
        assert_eq!(run["properties"]["verdict"], "reject");
        assert_eq!(run["invocations"][0]["exitCode"], 1);
        assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    }

    #[test]
    fn regions_are_source_lines_or_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.ko"), [0u8; 100]).unwrap();
        let mut on_source = finding("LP001", false);
        on_source.location.as_mut().unwrap().source = Some(SourceLine {
            file: dir.path().join("src/lp one.c").display().to_string(),
            line: 42,
        });
        let mut outside = finding("LP002", false);
        outside.location = Some(Location::file("/elsewhere/q.ko"));
        let report = Fixture(vec![finding("LP001", false), on_source, outside]);
        let log = render_in(&report, dir.path());
        let results = log["runs"][0]["results"].as_array().unwrap();
        let place = |i: usize| &results[i]["locations"][0]["physicalLocation"];
        assert_eq!(place(0)["region"]["byteLength"], 100);
        assert_eq!(place(0)["region"]["byteOffset"], 0);
        assert_eq!(place(1)["artifactLocation"]["uri"], "src/lp%20one.c");
        assert_eq!(place(1)["region"]["startLine"], 42);
        assert_eq!(
            place(2)["artifactLocation"]["uri"],
            "file:///elsewhere/q.ko"
        );
        assert!(place(2)["artifactLocation"].get("uriBaseId").is_none());
        assert_eq!(place(2)["region"]["startLine"], 1);
    }

    #[test]
    fn a_failed_run_says_why() {
        let rules = Fixture(Vec::new()).rules();
        let invocation = Invocation {
            base_dir: Path::new("/w"),
            exit_code: 2,
        };
        let log: serde_json::Value = serde_json::from_str(&render_failure(
            "check",
            &rules,
            "x.ko: cannot read: No such file or directory (os error 2)",
            &invocation,
        ))
        .unwrap();
        let run = &log["runs"][0];
        assert_eq!(run["results"].as_array().unwrap().len(), 0);
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 3);
        let call = &run["invocations"][0];
        assert_eq!(call["executionSuccessful"], false);
        assert_eq!(call["exitCode"], 2);
        assert_eq!(
            call["toolExecutionNotifications"][0]["message"]["text"],
            "x.ko: cannot read: No such file or directory (os error 2)."
        );
        assert!(run["properties"].get("verdict").is_none());
    }
}
