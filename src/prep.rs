//! Per-call prep: who the call is with, the agenda, known competitors and the planned
//! length. Given on `call start` or in a TOML prep file; the coach checks agenda coverage,
//! competitor mentions and the time left for a next step against it.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The prep for one call. Every field is optional; an empty prep turns off the rules
/// that need it (agenda drift needs an agenda).
///
/// ```toml
/// account = "ACME"
/// contact_name = "Dana Lee"
/// contact_role = "VP Operations"
/// rep_name = "Marcus"
/// agenda = ["current reporting process", "Salesforce integration", "pricing and next steps"]
/// competitors = ["Gong", "Chorus"]
/// planned_minutes = 30
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallPrep {
    /// The prospect's company.
    #[serde(default)]
    pub account: Option<String>,
    /// The prospect's name.
    #[serde(default)]
    pub contact_name: Option<String>,
    /// The prospect's role ("VP Operations").
    #[serde(default)]
    pub contact_role: Option<String>,
    /// The rep's name.
    #[serde(default)]
    pub rep_name: Option<String>,
    /// Agenda items, each a short phrase; coverage is matched on their keywords.
    #[serde(default)]
    pub agenda: Vec<String>,
    /// Competitors the prospect may mention; a mention is a competitor objection.
    #[serde(default)]
    pub competitors: Vec<String>,
    /// The planned call length in minutes.
    #[serde(default)]
    pub planned_minutes: Option<f64>,
}

/// A problem with a prep file.
#[derive(Debug, thiserror::Error)]
pub enum PrepError {
    #[error("{origin}: cannot read call prep: {source}")]
    Read {
        origin: String,
        source: std::io::Error,
    },
    #[error("{origin}: invalid call prep: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: invalid value for `{key}`: {problem}")]
    Invalid {
        origin: String,
        key: String,
        problem: String,
    },
}

impl CallPrep {
    /// Reads and validates a prep file.
    pub fn load(path: &Path) -> Result<CallPrep, PrepError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PrepError::Read {
            origin: origin.clone(),
            source,
        })?;
        CallPrep::from_toml_str(&text, &origin)
    }

    /// Parses and validates prep TOML; `origin` names it in errors (a path).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<CallPrep, PrepError> {
        let prep: CallPrep = toml::from_str(text).map_err(|e| PrepError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        prep.validate(origin)?;
        Ok(prep.trimmed())
    }

    /// Checks values a parser cannot: a positive, sane planned length and no empty items.
    pub fn validate(&self, origin: &str) -> Result<(), PrepError> {
        let invalid = |key: String, problem: &str| PrepError::Invalid {
            origin: origin.to_string(),
            key,
            problem: problem.to_string(),
        };
        if let Some(m) = self.planned_minutes {
            if !m.is_finite() || m <= 0.0 || m > 24.0 * 60.0 {
                return Err(invalid(
                    "planned_minutes".into(),
                    "must be a number of minutes between 0 and 1440",
                ));
            }
        }
        for (i, item) in self.agenda.iter().enumerate() {
            if item.trim().is_empty() {
                return Err(invalid(format!("agenda[{i}]"), "is empty"));
            }
        }
        for (i, c) in self.competitors.iter().enumerate() {
            if c.trim().is_empty() {
                return Err(invalid(format!("competitors[{i}]"), "is empty"));
            }
        }
        Ok(())
    }

    fn trimmed(mut self) -> CallPrep {
        let trim = |s: &mut Option<String>| {
            if let Some(v) = s {
                *v = v.trim().to_string();
                if v.is_empty() {
                    *s = None;
                }
            }
        };
        trim(&mut self.account);
        trim(&mut self.contact_name);
        trim(&mut self.contact_role);
        trim(&mut self.rep_name);
        self.agenda = self.agenda.iter().map(|s| s.trim().to_string()).collect();
        self.competitors = self
            .competitors
            .iter()
            .map(|s| s.trim().to_string())
            .collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_prep_file() {
        let prep = CallPrep::from_toml_str(
            r#"
account = "ACME"
contact_name = " Dana Lee "
contact_role = "VP Operations"
rep_name = "Marcus"
agenda = ["current reporting process", "Salesforce integration"]
competitors = ["Gong"]
planned_minutes = 30
"#,
            "prep.toml",
        )
        .unwrap();
        assert_eq!(prep.contact_name.as_deref(), Some("Dana Lee"));
        assert_eq!(prep.agenda.len(), 2);
        assert_eq!(prep.planned_minutes, Some(30.0));
    }

    #[test]
    fn empty_prep_is_fine() {
        assert_eq!(
            CallPrep::from_toml_str("", "prep.toml").unwrap(),
            CallPrep::default()
        );
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let e = CallPrep::from_toml_str("acount = \"ACME\"", "acme.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("acme.toml") && e.contains("acount"), "{e}");
        let e = CallPrep::from_toml_str("planned_minutes = -5", "acme.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("planned_minutes"), "{e}");
        let e = CallPrep::from_toml_str("agenda = [\"pricing\", \"  \"]", "acme.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("agenda[1]"), "{e}");
        let e = CallPrep::from_toml_str("agenda = \"pricing\"", "acme.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("agenda"), "{e}");
        let e = CallPrep::load(Path::new("/nonexistent/prep.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/prep.toml"), "{e}");
    }
}
