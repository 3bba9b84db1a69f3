//! Commands from the overlay's buttons and the `callcoach call` CLI, parsed
//! and validated here, then handed to the daemon through a bounded channel.
//!
//! Runs on the server's tokio tasks; parsing is pure.

use serde::{Deserialize, Serialize};

/// What the daemon is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlCommand {
    StartCall(CallPrep),
    EndCall,
}

impl ControlCommand {
    pub fn action(&self) -> &'static str {
        match self {
            ControlCommand::StartCall(_) => "start_call",
            ControlCommand::EndCall => "end_call",
        }
    }
}

/// Per-call prep given on `call start`. Every field is optional: the overlay's
/// Start button may send none of them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallPrep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agenda: Vec<String>,
    /// Planned length of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u32>,
}

const MAX_FIELD_CHARS: usize = 200;
const MAX_AGENDA_ITEMS: usize = 20;
const MAX_MINUTES: u32 = 8 * 60;

impl CallPrep {
    /// Parses a JSON object of prep fields; unknown keys and out-of-range
    /// values are errors that name the field.
    pub fn from_json(value: serde_json::Value) -> Result<CallPrep, String> {
        let prep: CallPrep = serde_json::from_value(value).map_err(|e| format!("invalid call prep: {e}"))?;
        prep.validated()
    }

    fn validated(self) -> Result<CallPrep, String> {
        let field = |name: &str, value: Option<String>| -> Result<Option<String>, String> {
            let value = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
            match &value {
                Some(v) if v.chars().count() > MAX_FIELD_CHARS => Err(format!("{name} is longer than {MAX_FIELD_CHARS} characters")),
                _ => Ok(value),
            }
        };
        let agenda: Vec<String> = self.agenda.into_iter().map(|item| item.trim().to_string()).filter(|item| !item.is_empty()).collect();
        if agenda.len() > MAX_AGENDA_ITEMS {
            return Err(format!("agenda has more than {MAX_AGENDA_ITEMS} items"));
        }
        if let Some(item) = agenda.iter().find(|item| item.chars().count() > MAX_FIELD_CHARS) {
            return Err(format!("agenda item {:?}… is longer than {MAX_FIELD_CHARS} characters", item.chars().take(20).collect::<String>()));
        }
        if let Some(minutes) = self.minutes {
            if minutes == 0 || minutes > MAX_MINUTES {
                return Err(format!("minutes must be between 1 and {MAX_MINUTES}"));
            }
        }
        Ok(CallPrep {
            account: field("account", self.account)?,
            contact: field("contact", self.contact)?,
            role: field("role", self.role)?,
            agenda,
            minutes: self.minutes,
        })
    }
}

/// A message a WebSocket client sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClientMessage {
    Control(ControlCommand),
    Ping,
}

impl ClientMessage {
    /// `{"type":"ping"}`, `{"type":"control","action":"end_call"}`, or
    /// `{"type":"control","action":"start_call", …prep fields}`.
    pub(crate) fn parse(text: &str) -> Result<ClientMessage, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let serde_json::Value::Object(mut fields) = value else { return Err("expected a JSON object".into()) };
        let kind = fields.remove("type");
        match kind.as_ref().and_then(|k| k.as_str()) {
            Some("ping") => Ok(ClientMessage::Ping),
            Some("control") => {
                let action = fields.remove("action");
                fields.remove("v");
                match action.as_ref().and_then(|a| a.as_str()) {
                    Some("start_call") => CallPrep::from_json(serde_json::Value::Object(fields)).map(|prep| ClientMessage::Control(ControlCommand::StartCall(prep))),
                    Some("end_call") => Ok(ClientMessage::Control(ControlCommand::EndCall)),
                    Some(other) => Err(format!("unknown control action {other:?}")),
                    None => Err("control message without an \"action\"".into()),
                }
            }
            Some(other) => Err(format!("unknown message type {other:?}")),
            None => Err("message without a \"type\"".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_parse_and_validate() {
        assert_eq!(ClientMessage::parse(r#"{"type":"ping"}"#), Ok(ClientMessage::Ping));
        assert_eq!(ClientMessage::parse(r#"{"type":"control","action":"end_call"}"#), Ok(ClientMessage::Control(ControlCommand::EndCall)));
        let start = ClientMessage::parse(
            r#"{"type":"control","action":"start_call","account":" ACME ","contact":"Dana Lee","role":"VP Operations","agenda":["pricing",""],"minutes":30}"#,
        )
        .unwrap();
        let ClientMessage::Control(ControlCommand::StartCall(prep)) = start else { panic!("{start:?}") };
        assert_eq!(prep.account.as_deref(), Some("ACME"));
        assert_eq!(prep.agenda, vec!["pricing".to_string()]);
        assert_eq!(prep.minutes, Some(30));
        assert!(ClientMessage::parse(r#"{"type":"control","action":"start_call","acount":"typo"}"#).unwrap_err().contains("acount"));
        assert!(ClientMessage::parse(r#"{"type":"control","action":"start_call","minutes":0}"#).unwrap_err().contains("minutes"));
        assert!(ClientMessage::parse(r#"{"type":"control","action":"launch"}"#).is_err());
        assert!(ClientMessage::parse(r#"{"type":"nope"}"#).is_err());
        assert!(ClientMessage::parse("[1]").is_err());
        assert!(ClientMessage::parse("{").is_err());
    }
}
