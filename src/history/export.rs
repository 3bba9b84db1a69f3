//! `callcoach export`: one row per call for a CRM's importer. CSV follows RFC 4180
//! (CRLF line ends, fields with `,` `"` CR or LF quoted, quotes doubled) with a
//! header row, which HubSpot's and Salesforce's CSV importers read; JSON is an
//! array of the same rows. README "CRM export" maps each column to their fields.
//!
//! Thread: the CLI.

use serde::Serialize;

use super::PastCall;

/// One call as a CRM row. Field order is the CSV column order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportRow {
    pub call_id: String,
    /// `YYYY-MM-DD` (UTC), the date format both importers accept.
    pub date: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub account: String,
    pub contact: String,
    pub rep: String,
    /// `good` or `bad`.
    pub outcome: String,
    pub primary_root_cause: String,
    pub salvage_action: String,
    pub next_step: String,
    pub crm_note: String,
}

const COLUMNS: [&str; 11] = [
    "call_id",
    "date",
    "started_at",
    "account",
    "contact",
    "rep",
    "outcome",
    "primary_root_cause",
    "salvage_action",
    "next_step",
    "crm_note",
];

impl ExportRow {
    pub fn of(call: &PastCall) -> ExportRow {
        ExportRow {
            call_id: call.call_id.clone(),
            date: call.started_at.format("%Y-%m-%d").to_string(),
            started_at: super::stamp(&call.started_at),
            account: call.account.clone(),
            contact: call.crm.contact.clone(),
            rep: call.rep.clone(),
            outcome: call.outcome.as_str().to_string(),
            primary_root_cause: call.root_causes.first().map(|c| c.as_str().to_string()).unwrap_or_default(),
            salvage_action: call.salvage_action.map(|a| a.as_str().to_string()).unwrap_or_default(),
            next_step: call.crm.next_step.clone(),
            crm_note: call.crm.crm_note.clone(),
        }
    }

    fn fields(&self) -> [&str; 11] {
        [
            &self.call_id,
            &self.date,
            &self.started_at,
            &self.account,
            &self.contact,
            &self.rep,
            &self.outcome,
            &self.primary_root_cause,
            &self.salvage_action,
            &self.next_step,
            &self.crm_note,
        ]
    }
}

/// One CSV field. Quoted when RFC 4180 needs it; a cell a spreadsheet would run
/// as a formula (`=`, `+`, `-`, `@` first: words from a transcript) gets a
/// leading `'` so that opening the export in one runs nothing.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_string() };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn csv_line(fields: &[&str]) -> String {
    fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",") + "\r\n"
}

/// The header row, then one row per call.
pub fn export_csv(calls: &[PastCall]) -> String {
    let mut out = csv_line(&COLUMNS);
    for call in calls {
        out.push_str(&csv_line(&ExportRow::of(call).fields()));
    }
    out
}

/// A JSON array of rows.
pub fn export_json(calls: &[PastCall]) -> String {
    let rows: Vec<ExportRow> = calls.iter().map(ExportRow::of).collect();
    serde_json::to_string_pretty(&rows).expect("rows serialise") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_per_rfc_4180_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"yes\""), "\"say \"\"yes\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_line(&["a", "b,c"]), "a,\"b,c\"\r\n");
    }
}
