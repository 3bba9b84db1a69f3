//! The durable, append-only record of a call: one JSON object per line.
//!
//! Every utterance, final transcript segment, device-health event and the
//! call's start and end are appended as they happen. Each line is handed to
//! the kernel with a single `write` as soon as it is produced, so a crash or
//! `kill -9` of callcoach loses nothing already written; `fdatasync` runs at
//! most once a second so that even a power cut loses about a second. Files
//! are created 0600 in 0700 directories: a transcript is private.
//!
//! Thread: written from the pipeline thread; read by the post-call stage and
//! by `callcoach brief --from-journal` for crash recovery.

use std::fs::{File, OpenOptions};
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
}

/// Appends entries to one or more journal files (the data directory's and,
/// for replays, the `--out` directory's).
pub struct Journal {
    files: Vec<(PathBuf, File)>,
    line: Vec<u8>,
    last_sync: Instant,
}

impl Journal {
    /// Creates (or appends to) each file, private to the user.
    pub fn create(paths: &[PathBuf]) -> Result<Journal, JournalError> {
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            if let Some(parent) = path.parent() {
                create_private_dir(parent).map_err(|source| JournalError::Io { path: parent.to_path_buf(), source })?;
            }
            let file = open_private_append(path).map_err(|source| JournalError::Io { path: path.clone(), source })?;
            files.push((path.clone(), file));
        }
        Ok(Journal { files, line: Vec::with_capacity(512), last_sync: Instant::now() })
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
        if self.last_sync.elapsed() >= Duration::from_secs(1) {
            self.sync()?;
        }
        Ok(())
    }

    /// Forces everything to disk.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        for (path, file) in &mut self.files {
            file.sync_data().map_err(|source| JournalError::Io { path: path.clone(), source })?;
        }
        self.last_sync = Instant::now();
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
}

impl JournalRecord {
    /// Call length: the clean end, else the last thing heard.
    pub fn duration_s(&self) -> f64 {
        self.ended_at_s.unwrap_or_else(|| {
            self.utterances.iter().map(|u| u.end_s).chain(self.segments.iter().map(|s| s.end_s)).fold(0.0, f64::max)
        })
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
        }
    }
    if record.call_id.is_empty() {
        return Err(JournalError::Corrupt { path: path.to_path_buf(), line: 1, problem: "not a callcoach journal (no call_started line)".into() });
    }
    Ok(record)
}

/// Creates `dir` and its missing parents; the leaf gets mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

fn open_private_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Writes `bytes` to `path` atomically (temp file + rename), mode 0600.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let mut options = OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temp)?;
    file.write_all(bytes)?;
    file.sync_data()?;
    drop(file);
    std::fs::rename(&temp, path)
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
            .append(&Entry::Segment(Segment { speaker: Speaker::Rep, start_s: 1.0, end_s: 2.5, text: "Hi Dana.".into() }))
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

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("brief.json");
        write_private_atomic(&path, b"one").unwrap();
        write_private_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left behind");
    }
}
