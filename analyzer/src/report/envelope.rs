//! The one JSON envelope of every command's output: `schema_version`, `command`, `verdict`,
//! `findings`, then the command's own fields (see `docs/json.md`).
//!
//! A command's result type is the payload: it serializes only its own fields, and the envelope
//! adds the common ones in front, so that every JSON output starts the same way and its findings
//! have one shape ([`Finding`]).

use schemars::JsonSchema;
use serde::Serialize;

use super::Finding;

/// Version of the JSON schema of every command's output; bumped when a field is removed or
/// retyped (adding one does not bump it).
///
/// 2: every output has the envelope (`diff`, `status`, `kexec` and `list` had no
/// `schema_version`, `watch` and `preflight` no `findings`).
pub const SCHEMA_VERSION: u32 = 2;

/// The command whose output an envelope holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CommandName {
    /// `lpcheck check`.
    Check,
    /// `lpcheck diff`.
    Diff,
    /// `lpcheck preflight`.
    Preflight,
    /// `lpcheck watch` (one envelope per snapshot).
    Watch,
    /// `lpcheck status`.
    Status,
    /// `lpcheck kexec` (the plan).
    Kexec,
    /// `lpcheck list`.
    List,
}

/// A command's result as the envelope carries it: the command it belongs to, its verdict and
/// its findings; its own fields are what it serializes.
pub trait Enveloped: Serialize {
    /// The verdict's type (an enum of lower-case words).
    type Verdict: Serialize + JsonSchema;

    /// The command.
    const COMMAND: CommandName;

    /// The verdict, as the exit status says it.
    fn verdict(&self) -> Self::Verdict;

    /// The coded findings (none for commands whose checks are not coded).
    fn envelope_findings(&self) -> Vec<Finding>;

    /// The result in its envelope.
    fn envelope(&self) -> Envelope<Self::Verdict, &Self>
    where
        Self: Sized,
    {
        Envelope {
            schema_version: SCHEMA_VERSION,
            command: Self::COMMAND,
            verdict: self.verdict(),
            findings: self.envelope_findings(),
            payload: self,
        }
    }

    /// The result in its envelope, as pretty-printed JSON with a final newline.
    fn to_json(&self) -> String
    where
        Self: Sized,
    {
        let mut text = serde_json::to_string_pretty(&self.envelope())
            .expect("every command's result serializes");
        text.push('\n');
        text
    }
}

/// One command's JSON output.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Envelope<V, P> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The command that printed it.
    pub command: CommandName,
    /// The verdict, one word per exit status of the command.
    pub verdict: V,
    /// The coded findings (`lpcheck codes` lists every code), in report order.
    pub findings: Vec<Finding>,
    /// The command's own fields.
    #[serde(flatten)]
    pub payload: P,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Severity;

    #[derive(Serialize)]
    struct Sample {
        count: u32,
    }

    impl Enveloped for Sample {
        type Verdict = &'static str;
        const COMMAND: CommandName = CommandName::Status;

        fn verdict(&self) -> &'static str {
            if self.count == 0 {
                "clear"
            } else {
                "blocked"
            }
        }

        fn envelope_findings(&self) -> Vec<Finding> {
            (0..self.count)
                .map(|i| Finding {
                    rule: format!("XX{i:03}"),
                    name: "sample".into(),
                    severity: Severity::Warning,
                    message: "m".into(),
                    target: None,
                    evidence: Vec::new(),
                    hint: None,
                    reference: None,
                    location: None,
                    waiver: None,
                })
                .collect()
        }
    }

    #[test]
    fn the_common_fields_come_first_then_the_payload() {
        let text = Sample { count: 1 }.to_json();
        let at = |key: &str| text.find(&format!("\"{key}\"")).unwrap();
        let order = ["schema_version", "command", "verdict", "findings", "count"].map(at);
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["schema_version"], SCHEMA_VERSION);
        assert_eq!(value["command"], "status");
        assert_eq!(value["verdict"], "blocked");
        assert_eq!(value["findings"][0]["rule"], "XX000");
        assert!(text.ends_with("}\n"));
        let clear: serde_json::Value =
            serde_json::from_str(&Sample { count: 0 }.to_json()).unwrap();
        assert_eq!(clear["verdict"], "clear");
        assert_eq!(clear["findings"], serde_json::json!([]));
    }
}
