//! The durable, append-only record of a call: one JSON object per line.
//!
//! Every utterance, final transcript segment, device-health event and the
//! call's start and end are appended as they happen. Each line is handed to
//! the kernel with a single `write` as soon as it is produced, so a crash or
//! `kill -9` of callcoach loses nothing already written; `fdatasync` follows
//! any write within about a second (`Journal::sync_if_due`, called from the
//! pipeline's loop even when nothing new is written), so that even a power
//! cut loses about a second. Partial transcripts of the utterance still being
//! spoken are journaled as they are produced: a crash mid-utterance keeps the
//! words the overlay had shown, and `read` turns them into that utterance.
//! Files are created 0600 in 0700 directories through `private_file`: a
//! transcript is private.
//!
//! Thread: written from the pipeline thread; read by the post-call stage and
//! by `callcoach brief --from-journal` for crash recovery.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::call::{Segment, Speaker, Utterance};

/// Journal format version, written in the first line.
pub const JOURNAL_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: line {line}: {problem}", path.display())]
    Corrupt { path: PathBuf, line: usize, problem: String },
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    CallStarted {
        version: u32,
        call_id: String,
        /// Wall-clock start, RFC 3339.
        started_at: String,
        /// Where the audio comes from: "capture" or the replayed file.
        source: String,
        /// The call's prep (account, contact, agenda…) as given, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prep: Option<serde_json::Value>,
        /// Set when the live judge's verdicts follow as `verdict` lines
        /// (`language` version); older journals are judged again after the call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        judge: Option<u32>,
    },
    Utterance(Utterance),
    Segment(Segment),
    /// A device stopped or came back; gaps are recorded so the brief knows.
    Health { t_s: f64, event: serde_json::Value },
    CallEnded { t_s: f64, reason: String },
    /// The live judge's verdict on an objection or the next step, as it was reached.
    Verdict { verdict: crate::coach::CoachVerdict },
    /// A partial transcript of an utterance still being spoken (live only);
    /// the utterance's final segments supersede it.
    Partial(Segment),
    /// The second pass's transcript of one final piece (the same span as
    /// the live `segment` of that piece), by the bigger model, for the brief.
    SecondPass(Segment),
    /// The second pass stopped: what it covered, and why it left the rest.
    SecondPassEnded(crate::transcribe::second_pass::SecondPassEnded),
}

/// How long a written line may wait for `fdatasync`.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Appends entries to one or more journal files (the data directory's and,
/// for replays, the `--out` directory's).
pub struct Journal {
    files: Vec<(PathBuf, File)>,
    line: Vec<u8>,
    /// When the oldest line not yet synced was written.
    unsynced_since: Option<Instant>,
}

impl Journal {
    /// Creates (or appends to) each file, private to the user.
    pub fn create(paths: &[PathBuf]) -> Result<Journal, JournalError> {
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let file = crate::private_file::open_append(path).map_err(|source| JournalError::Io { path: path.clone(), source })?;
            files.push((path.clone(), file));
        }
        Ok(Journal { files, line: Vec::with_capacity(512), unsynced_since: None })
    }

    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.iter().map(|(p, _)| p.clone()).collect()
    }

    /// Appends one entry to every file with one `write` each.
    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, entry).expect("journal entries always serialise");
        self.line.push(b'\n');
        for (path, file) in &mut self.files {
            file.write_all(&self.line).map_err(|source| JournalError::Io { path: path.clone(), source })?;
        }
        self.unsynced_since.get_or_insert_with(Instant::now);
        self.sync_if_due()
    }

    /// Syncs when a line has waited [`SYNC_INTERVAL`]; cheap otherwise. The
    /// pipeline calls it on every turn of its loop, so a line written just
    /// before a long silence is on disk a second later, not at the next line.
    pub fn sync_if_due(&mut self) -> Result<(), JournalError> {
        match self.unsynced_since {
            Some(since) if since.elapsed() >= SYNC_INTERVAL => self.sync(),
            _ => Ok(()),
        }
    }

    /// Whether a written line still waits for `fdatasync`.
    pub fn has_unsynced(&self) -> bool {
        self.unsynced_since.is_some()
    }

    /// Forces everything to disk.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        for (path, file) in &mut self.files {
            file.sync_data().map_err(|source| JournalError::Io { path: path.clone(), source })?;
        }
        self.unsynced_since = None;
        Ok(())
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

/// A call as the journal recorded it.
#[derive(Debug, Clone, Default)]
pub struct JournalRecord {
    pub call_id: String,
    pub started_at: String,
    pub source: String,
    pub prep: Option<serde_json::Value>,
    pub utterances: Vec<Utterance>,
    pub segments: Vec<Segment>,
    pub health: Vec<(f64, serde_json::Value)>,
    /// Call time of the end, if the call ended cleanly.
    pub ended_at_s: Option<f64>,
    /// True when the last line was cut off (callcoach died mid-write).
    pub truncated_tail: bool,
    /// The live judge's verdicts in the order they were reached.
    pub verdicts: Vec<crate::coach::CoachVerdict>,
    /// The judge version that wrote `verdicts`, if the journal carries them.
    pub judge: Option<u32>,
    /// Utterances recovered from partial transcripts: speech that was still
    /// going on (or still being transcribed) when callcoach stopped. Their
    /// words are in `segments`, their time in `utterances`.
    pub recovered_from_partials: usize,
    /// The second pass's transcripts (`second_pass` lines), in the order written.
    pub second_pass: Vec<Segment>,
    /// Its closing report, if it got that far.
    pub second_pass_ended: Option<crate::transcribe::second_pass::SecondPassEnded>,
}

impl JournalRecord {
    /// Call length: the clean end, else the last thing heard.
    pub fn duration_s(&self) -> f64 {
        self.ended_at_s.unwrap_or_else(|| {
            self.utterances.iter().map(|u| u.end_s).chain(self.segments.iter().map(|s| s.end_s)).fold(0.0, f64::max)
        })
    }

    /// Keeps the words of every utterance that has no final transcript: the
    /// latest partial of each (partials of one utterance share its start), as
    /// a segment, and its time as an utterance when the utterance itself was
    /// never journaled (it was still open).
    fn recover_partials(&mut self, partials: Vec<Segment>) {
        const SAME_START_S: f64 = 0.01;
        let mut latest: Vec<Segment> = Vec::new();
        for partial in partials {
            match latest.iter_mut().find(|p| p.speaker == partial.speaker && (p.start_s - partial.start_s).abs() < SAME_START_S) {
                Some(existing) if partial.end_s >= existing.end_s => *existing = partial,
                Some(_) => {}
                None => latest.push(partial),
            }
        }
        for partial in latest {
            let transcribed = self
                .segments
                .iter()
                .any(|s| s.speaker == partial.speaker && s.start_s < partial.end_s && s.end_s > partial.start_s);
            if transcribed || partial.text.trim().is_empty() {
                continue;
            }
            let journaled = self
                .utterances
                .iter()
                .any(|u| u.speaker == partial.speaker && (u.start_s - partial.start_s).abs() < SAME_START_S);
            if !journaled {
                self.utterances.push(Utterance { speaker: partial.speaker, start_s: partial.start_s, end_s: partial.end_s });
            }
            self.segments.push(partial);
            self.recovered_from_partials += 1;
        }
        if self.recovered_from_partials > 0 {
            self.segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
            self.utterances.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        }
    }

    /// Seconds of speech per speaker, from the VAD utterances.
    pub fn talk_seconds(&self, speaker: Speaker) -> f64 {
        self.utterances.iter().filter(|u| u.speaker == speaker).map(Utterance::duration_s).sum()
    }
}

/// Reads a journal. A cut-off last line (a crash mid-write) is tolerated and
/// flagged; a malformed line elsewhere is an error naming the line.
pub fn read(path: &Path) -> Result<JournalRecord, JournalError> {
    let file = File::open(path).map_err(|source| JournalError::Io { path: path.to_path_buf(), source })?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|source| JournalError::Io { path: path.to_path_buf(), source })?;
    let mut record = JournalRecord::default();
    let mut partials = Vec::new();
    let last = lines.len().saturating_sub(1);
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = match serde_json::from_str(line) {
            Ok(entry) => entry,
            Err(_) if index == last => {
                record.truncated_tail = true;
                break;
            }
            Err(e) => {
                return Err(JournalError::Corrupt { path: path.to_path_buf(), line: index + 1, problem: e.to_string() })
            }
        };
        match entry {
            Entry::CallStarted { call_id, started_at, source, prep, judge, .. } => {
                record.judge = judge;
                record.call_id = call_id;
                record.started_at = started_at;
                record.source = source;
                record.prep = prep;
            }
            Entry::Utterance(u) => record.utterances.push(u),
            Entry::Segment(s) => record.segments.push(s),
            Entry::Health { t_s, event } => record.health.push((t_s, event)),
            Entry::CallEnded { t_s, .. } => record.ended_at_s = Some(t_s),
            Entry::Verdict { verdict } => record.verdicts.push(verdict),
            Entry::Partial(segment) => partials.push(segment),
            Entry::SecondPass(segment) => record.second_pass.push(segment),
            Entry::SecondPassEnded(ended) => record.second_pass_ended = Some(ended),
        }
    }
    record.recover_partials(partials);
    if record.call_id.is_empty() {
        return Err(JournalError::Corrupt { path: path.to_path_buf(), line: 1, problem: "not a callcoach journal (no call_started line)".into() });
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started() -> Entry {
        Entry::CallStarted { version: JOURNAL_VERSION, call_id: "c1".into(), started_at: "2026-11-23T10:00:00Z".into(), source: "test".into(), prep: None, judge: None }
    }

    #[test]
    fn round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls/c1/journal.jsonl");
        let mut journal = Journal::create(&[path.clone()]).unwrap();
        journal.append(&started()).unwrap();
        journal.append(&Entry::Utterance(Utterance { speaker: Speaker::Rep, start_s: 1.0, end_s: 2.5 })).unwrap();
        journal
            .append(&Entry::Segment(Segment { speaker: Speaker::Rep, start_s: 1.0, end_s: 2.5, text: "Hi Dana.".into(), confidence: None }))
            .unwrap();
        journal.append(&Entry::CallEnded { t_s: 3.0, reason: "end".into() }).unwrap();
        drop(journal);
        let record = read(&path).unwrap();
        assert_eq!(record.call_id, "c1");
        assert_eq!(record.segments[0].text, "Hi Dana.");
        assert_eq!(record.talk_seconds(Speaker::Rep), 1.5);
        assert_eq!(record.ended_at_s, Some(3.0));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
    }

    #[test]
    fn tolerates_a_cut_off_last_line_but_not_a_bad_middle_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let good = serde_json::to_string(&started()).unwrap();
        std::fs::write(&path, format!("{good}\n{{\"type\":\"utterance\",\"speak")).unwrap();
        let record = read(&path).unwrap();
        assert!(record.truncated_tail);
        std::fs::write(&path, format!("{good}\ngarbage\n{good}\n")).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    fn segment(speaker: Speaker, start_s: f64, end_s: f64, text: &str) -> Segment {
        Segment { speaker, start_s, end_s, text: text.into(), confidence: None }
    }

    /// A crash mid-utterance: the latest partial of the open utterance becomes
    /// its words and its time; partials of utterances that got their final
    /// transcript are dropped; a journaled utterance whose final transcript
    /// never came keeps its partial's words.
    #[test]
    fn partials_of_unfinished_utterances_are_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut journal = Journal::create(std::slice::from_ref(&path)).unwrap();
        journal.append(&started()).unwrap();
        let rep = Speaker::Rep;
        journal.append(&Entry::Partial(segment(rep, 1.0, 2.5, "so the first"))).unwrap();
        journal.append(&Entry::Utterance(Utterance { speaker: rep, start_s: 1.0, end_s: 3.0 })).unwrap();
        journal.append(&Entry::Segment(segment(rep, 1.0, 3.0, "so the first thing"))).unwrap();
        journal.append(&Entry::Partial(segment(Speaker::Prospect, 4.0, 5.5, "we were"))).unwrap();
        journal.append(&Entry::Utterance(Utterance { speaker: Speaker::Prospect, start_s: 4.0, end_s: 6.0 })).unwrap();
        journal.append(&Entry::Partial(segment(rep, 7.0, 8.5, "what I'd like"))).unwrap();
        journal.append(&Entry::Partial(segment(rep, 7.0, 10.0, "what I'd like to cover today is"))).unwrap();
        drop(journal);
        let record = read(&path).unwrap();
        assert_eq!(record.recovered_from_partials, 2);
        let texts: Vec<&str> = record.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["so the first thing", "we were", "what I'd like to cover today is"]);
        assert_eq!(record.utterances.len(), 3, "the open utterance gets its time");
        assert_eq!(record.utterances[2].end_s, 10.0);
        assert!((record.talk_seconds(rep) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn a_written_line_is_synced_within_the_interval_without_another_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(&[dir.path().join("j.jsonl")]).unwrap();
        journal.append(&started()).unwrap();
        assert!(journal.has_unsynced(), "the first line waits for the interval");
        journal.sync_if_due().unwrap();
        assert!(journal.has_unsynced(), "not due yet");
        std::thread::sleep(SYNC_INTERVAL + Duration::from_millis(20));
        journal.sync_if_due().unwrap();
        assert!(!journal.has_unsynced(), "due: synced with no new line");
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("brief.json");
        crate::private_file::write_atomic(&path, b"one").unwrap();
        crate::private_file::write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left behind");
    }
}
