//! The objection library (phrasings and prepared responses per objection type, from
//! `config/objections.toml`) and the matcher that finds objections in the prospect's
//! words despite Whisper's errors, without firing on the rep's speech or on negations.
//!
//! Pure and synchronous; the coach calls it on the thread that feeds it segments.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::prep::CallPrep;
use super::text::{self, Sentence};
use crate::call::Speaker;

/// The five objection types of the method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectionType {
    Price,
    Timing,
    Authority,
    Need,
    Competitor,
}

impl ObjectionType {
    /// Every type, in the order the library lists them.
    pub const ALL: [ObjectionType; 5] = [
        ObjectionType::Price,
        ObjectionType::Timing,
        ObjectionType::Authority,
        ObjectionType::Need,
        ObjectionType::Competitor,
    ];

    /// The lowercase name used in TOML and JSON ("price").
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectionType::Price => "price",
            ObjectionType::Timing => "timing",
            ObjectionType::Authority => "authority",
            ObjectionType::Need => "need",
            ObjectionType::Competitor => "competitor",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for ObjectionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem with an objection library file.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("{origin}: cannot read objection library: {source}")]
    Read {
        origin: String,
        source: std::io::Error,
    },
    #[error("{origin}: invalid objection library: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: invalid value for `{key}`: {problem}")]
    Invalid {
        origin: String,
        key: String,
        problem: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLibrary {
    #[serde(default)]
    matching: RawMatching,
    price: RawEntry,
    timing: RawEntry,
    authority: RawEntry,
    need: RawEntry,
    competitor: RawEntry,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatching {
    min_score: Option<f32>,
    #[serde(default)]
    concern_words: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    label: Option<String>,
    phrases: Vec<String>,
    #[serde(default)]
    topics: Vec<String>,
    responses: Vec<String>,
}

/// One objection type's phrasings and prepared responses.
#[derive(Debug, Clone)]
pub struct ObjectionEntry {
    /// Which type this is.
    pub kind: ObjectionType,
    /// Display name ("Price").
    pub label: String,
    /// What prospects say, as written in the library.
    pub phrases: Vec<String>,
    /// Topic words that, with a concern word in the same clause, raise this type.
    pub topics: Vec<String>,
    /// Prepared responses; the first is the default.
    pub responses: Vec<String>,
    compiled: Vec<CompiledPhrase>,
    topic_stems: Vec<String>,
}

/// The objection library: per type, phrasings and prepared responses.
#[derive(Debug, Clone)]
pub struct ObjectionLibrary {
    entries: Vec<ObjectionEntry>,
    concern_stems: Vec<String>,
    min_score: f32,
}

/// The library shipped with callcoach (`config/objections.toml`).
pub const BUILTIN_LIBRARY_TOML: &str = include_str!("../../config/objections.toml");

impl ObjectionLibrary {
    /// The built-in library. Its file is checked by a unit test, so this cannot fail
    /// at run time.
    pub fn builtin() -> ObjectionLibrary {
        ObjectionLibrary::from_toml_str(BUILTIN_LIBRARY_TOML, "built-in config/objections.toml")
            .expect("the built-in objection library is valid (tested)")
    }

    /// Reads and validates a library file.
    pub fn load(path: &Path) -> Result<ObjectionLibrary, LibraryError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LibraryError::Read {
            origin: origin.clone(),
            source,
        })?;
        ObjectionLibrary::from_toml_str(&text, &origin)
    }

    /// Parses and validates library TOML; `origin` names it in errors (a path).
    pub fn from_toml_str(toml_text: &str, origin: &str) -> Result<ObjectionLibrary, LibraryError> {
        let raw: RawLibrary = toml::from_str(toml_text).map_err(|e| LibraryError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let invalid = |key: String, problem: &str| LibraryError::Invalid {
            origin: origin.to_string(),
            key,
            problem: problem.to_string(),
        };
        let min_score = raw.matching.min_score.unwrap_or(0.8);
        if !(0.5..=1.0).contains(&min_score) {
            return Err(invalid(
                "matching.min_score".into(),
                "must be between 0.5 and 1.0",
            ));
        }
        let mut concern_stems = Vec::new();
        for (i, w) in raw.matching.concern_words.iter().enumerate() {
            let ws = text::words(w);
            if ws.len() != 1 {
                return Err(invalid(
                    format!("matching.concern_words[{i}]"),
                    "must be a single word",
                ));
            }
            concern_stems.push(text::stem(&ws[0]));
        }
        let raws = [
            raw.price,
            raw.timing,
            raw.authority,
            raw.need,
            raw.competitor,
        ];
        let mut entries = Vec::new();
        for (kind, entry) in ObjectionType::ALL.into_iter().zip(raws) {
            let name = kind.as_str();
            if entry.phrases.is_empty() {
                return Err(invalid(
                    format!("{name}.phrases"),
                    "needs at least one phrase",
                ));
            }
            if entry.responses.iter().all(|r| r.trim().is_empty()) {
                return Err(invalid(
                    format!("{name}.responses"),
                    "needs at least one prepared response",
                ));
            }
            let mut compiled = Vec::new();
            for (i, p) in entry.phrases.iter().enumerate() {
                let c = CompiledPhrase::new(p);
                if c.words.is_empty() {
                    return Err(invalid(format!("{name}.phrases[{i}]"), "has no words"));
                }
                compiled.push(c);
            }
            let mut topic_stems = Vec::new();
            for (i, t) in entry.topics.iter().enumerate() {
                let ws = text::words(t);
                if ws.len() != 1 {
                    return Err(invalid(
                        format!("{name}.topics[{i}]"),
                        "must be a single word",
                    ));
                }
                topic_stems.push(text::stem(&ws[0]));
            }
            entries.push(ObjectionEntry {
                kind,
                label: entry.label.unwrap_or_else(|| capitalise(name)),
                phrases: entry.phrases,
                topics: entry.topics,
                responses: entry
                    .responses
                    .into_iter()
                    .filter(|r| !r.trim().is_empty())
                    .collect(),
                compiled,
                topic_stems,
            });
        }
        Ok(ObjectionLibrary {
            entries,
            concern_stems,
            min_score,
        })
    }

    /// The entry for one type.
    pub fn entry(&self, kind: ObjectionType) -> &ObjectionEntry {
        &self.entries[kind.index()]
    }

    /// The default prepared response for a type.
    pub fn response(&self, kind: ObjectionType) -> &str {
        &self.entry(kind).responses[0]
    }

    /// The minimum phrase-match score (0..1).
    pub fn min_score(&self) -> f32 {
        self.min_score
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A phrase prepared for matching: normalised words, stems and weights.
#[derive(Debug, Clone)]
struct CompiledPhrase {
    text: String,
    words: Vec<String>,
    stems: Vec<String>,
    weights: Vec<f32>,
    total: f32,
    has_negator: bool,
}

impl CompiledPhrase {
    fn new(phrase: &str) -> CompiledPhrase {
        let words = text::words(phrase);
        let stems = words.iter().map(|w| text::stem(w)).collect();
        // Negators carry the meaning of "not this quarter", so they must match; function
        // words matter less, so "run it by my VP" still matches "run it by our VP".
        let weights: Vec<f32> = words
            .iter()
            .map(|w| {
                if text::is_negator(w) {
                    1.5
                } else if text::is_stopword(w) {
                    0.5
                } else {
                    1.0
                }
            })
            .collect();
        let total = weights.iter().sum();
        let has_negator = words.iter().any(|w| text::is_negator(w));
        CompiledPhrase {
            text: phrase.to_string(),
            words,
            stems,
            weights,
            total,
            has_negator,
        }
    }
}

/// One objection found in a line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectionHit {
    /// The objection type.
    #[serde(rename = "type")]
    pub kind: ObjectionType,
    /// What matched: the library phrase, a prep competitor's name, or "topic … concern".
    pub phrase: String,
    /// Match quality, 0..1 (1 = exact).
    pub score: f32,
    /// The sentence it was found in, as written.
    pub sentence: String,
}

/// Finds objections in transcript lines with an [`ObjectionLibrary`].
#[derive(Debug, Clone)]
pub struct ObjectionMatcher {
    library: Arc<ObjectionLibrary>,
}

/// A normalised sentence with stems, matched against every phrase.
struct TextSentence<'a> {
    sentence: &'a Sentence,
    stems: Vec<String>,
    is_question: bool,
    /// Similarity of a phrase word to each word of the sentence. Library phrases share
    /// most of their words, so each is compared with the sentence once.
    rows: RefCell<HashMap<String, Rc<[f32]>>>,
}

impl TextSentence<'_> {
    fn new(sentence: &Sentence) -> TextSentence<'_> {
        TextSentence {
            sentence,
            stems: sentence.words.iter().map(|w| text::stem(w)).collect(),
            is_question: text::sentence_is_question(sentence),
            rows: RefCell::new(HashMap::new()),
        }
    }

    /// Similarities of `word` (stem `stem`) to every word of the sentence.
    fn row(&self, word: &str, stem: &str, strict: bool) -> Rc<[f32]> {
        let compute = || -> Rc<[f32]> {
            self.sentence
                .words
                .iter()
                .zip(&self.stems)
                .map(|(t, ts)| text::similarity_stemmed(word, stem, t, ts, strict))
                .collect()
        };
        if strict {
            return compute();
        }
        self.rows
            .borrow_mut()
            .entry(word.to_string())
            .or_insert_with(compute)
            .clone()
    }
}

/// Where a phrase aligned in a sentence.
#[derive(Debug, Clone)]
struct Alignment {
    start: usize,
    end: usize,
    score: f32,
    inserted: Vec<usize>,
}

/// Phrase words whose meaning flips when a reply says "fine" about them:
/// after a match, "... isn't a problem" / "is fine" dismisses it.
const DISMISSALS: &[&str] = &[
    "is fine",
    "are fine",
    "is ok",
    "is okay",
    "is not an issue",
    "is not a problem",
    "is not a concern",
];

/// "We can't afford to lose a crew", "we can't afford to wait": the cost of NOT acting,
/// an urgency signal, not a price objection. A match ending in `afford` followed by
/// "to" and a verb other than these spending verbs is such an idiom.
const AFFORD_TO_SPEND: &[&str] = &[
    "spend", "pay", "buy", "invest", "purchase", "add", "take", "switch", "sign", "hire",
];

const THIRD_PERSON: &[&str] = &["she", "he", "her", "his", "him", "they", "their", "them"];
const FIRST_PERSON: &[&str] = &["i", "me", "my", "mine", "myself"];

/// A phrase about someone else ("she makes all the decisions", "it is really her
/// call") matched on the speaker's own words ("I make all the decisions", "it's really
/// my call"): function words align loosely, so the person is checked here. The
/// prospect who holds the authority is not raising an authority objection.
fn wrong_person(phrase: &CompiledPhrase, words: &[String], start: usize, end: usize) -> bool {
    if !phrase
        .words
        .iter()
        .any(|w| THIRD_PERSON.contains(&w.as_str()))
    {
        return false;
    }
    let span = &words[start.saturating_sub(1)..end.min(words.len())];
    span.iter().any(|w| FIRST_PERSON.contains(&w.as_str()))
        && !span.iter().any(|w| THIRD_PERSON.contains(&w.as_str()))
}

/// Whether the match is "afford to <verb>" about something other than money.
fn afford_to_act(phrase: &CompiledPhrase, words: &[String], start: usize, end: usize) -> bool {
    if !phrase.words.iter().any(|w| w == "afford") {
        return false;
    }
    (start..end.min(words.len())).any(|k| {
        words[k] == "afford"
            && words.get(k + 1).is_some_and(|w| w == "to")
            && words
                .get(k + 2)
                .is_some_and(|v| !AFFORD_TO_SPEND.contains(&v.as_str()))
    })
}

impl ObjectionMatcher {
    /// A matcher over a library.
    pub fn new(library: Arc<ObjectionLibrary>) -> ObjectionMatcher {
        ObjectionMatcher { library }
    }

    /// The library this matcher uses.
    pub fn library(&self) -> &Arc<ObjectionLibrary> {
        &self.library
    }

    /// Objections the prospect raised in `text`, at most one per type, best first.
    /// The rep's own speech never raises one ("is price a concern?"). Negated mentions
    /// do not count ("price isn't an issue", "we're not locked into anything"). The
    /// prep's competitors count as competitor triggers when the prospect names them.
    pub fn find(&self, text_in: &str, speaker: Speaker, prep: &CallPrep) -> Vec<ObjectionHit> {
        if speaker == Speaker::Rep {
            return Vec::new();
        }
        let sentences = text::sentences(text_in);
        let prepared: Vec<TextSentence> = sentences.iter().map(TextSentence::new).collect();
        let mut best: Vec<Option<ObjectionHit>> = vec![None; ObjectionType::ALL.len()];
        let mut offer = |hit: ObjectionHit| {
            let slot = &mut best[hit.kind.index()];
            if slot.as_ref().is_none_or(|b| hit.score > b.score) {
                *slot = Some(hit);
            }
        };
        for ts in &prepared {
            for entry in &self.library.entries {
                for phrase in &entry.compiled {
                    if let Some(a) = align(phrase, ts, false, self.library.min_score) {
                        if a.score >= self.library.min_score
                            && !self.negated(phrase, ts, &a)
                            && !afford_to_act(phrase, &ts.sentence.words, a.start, a.end)
                            && !wrong_person(phrase, &ts.sentence.words, a.start, a.end)
                        {
                            offer(ObjectionHit {
                                kind: entry.kind,
                                phrase: phrase.text.clone(),
                                score: a.score,
                                sentence: ts.sentence.original.clone(),
                            });
                        }
                    }
                }
                if let Some(hit) = self.topic_hit(entry, ts) {
                    offer(hit);
                }
            }
            for name in &prep.competitors {
                let phrase = CompiledPhrase::new(name);
                if phrase.words.is_empty() {
                    continue;
                }
                if let Some(a) = align(&phrase, ts, true, 0.9) {
                    if a.score >= 0.9 && !self.negated(&phrase, ts, &a) {
                        offer(ObjectionHit {
                            kind: ObjectionType::Competitor,
                            phrase: name.clone(),
                            score: a.score.min(0.9),
                            sentence: ts.sentence.original.clone(),
                        });
                    }
                }
            }
        }
        let mut hits: Vec<ObjectionHit> = best.into_iter().flatten().collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.kind.cmp(&b.kind)));
        hits
    }

    /// Whether a phrase match is negated: a negator inserted into it ("we're NOT fine with
    /// spreadsheets"), in the few words before it in its clause ("it's not that we can't
    /// afford it"), or a dismissal right after it ("..., which isn't a problem").
    fn negated(&self, phrase: &CompiledPhrase, ts: &TextSentence, a: &Alignment) -> bool {
        let words = &ts.sentence.words;
        if a.inserted.iter().any(|&i| text::is_negator(&words[i])) {
            return true;
        }
        let clause = ts.sentence.clause_of(a.start);
        if text::negated_before(words, clause.clone(), a.start, 4) {
            return true;
        }
        let end_clause = ts.sentence.clause_of(a.end.saturating_sub(1));
        let after = &words[a.end.min(end_clause.end)..end_clause.end];
        // "no budget issues": a negated phrase with a concern word in it or right after it
        // denies the concern.
        if phrase.has_negator
            && (after.first().is_some_and(|w| self.is_concern(w))
                || a.inserted.iter().any(|&i| self.is_concern(&words[i])))
        {
            return true;
        }
        let after_window = &after[..after.len().min(6)];
        DISMISSALS
            .iter()
            .any(|d| text::find_seq(after_window, d).is_some())
    }

    fn is_concern(&self, word: &str) -> bool {
        let s = text::stem(word);
        self.library.concern_stems.contains(&s)
    }

    /// "The budget is tight", "timing is a problem": a topic word and a concern word in
    /// one clause of a statement, with no negation between or just before them.
    fn topic_hit(&self, entry: &ObjectionEntry, ts: &TextSentence) -> Option<ObjectionHit> {
        if entry.topic_stems.is_empty() || ts.is_question {
            return None;
        }
        let words = &ts.sentence.words;
        for clause in ts.sentence.clause_ranges() {
            for ti in clause.clone() {
                if !entry.topic_stems.iter().any(|t| *t == ts.stems[ti]) {
                    continue;
                }
                let lo = ti.saturating_sub(4).max(clause.start);
                let hi = (ti + 7).min(clause.end);
                for ci in lo..hi {
                    if ci == ti || !self.is_concern(&words[ci]) {
                        continue;
                    }
                    let (a, b) = (ti.min(ci), ti.max(ci));
                    let between_negated = words[a..b].iter().any(|w| text::is_negator(w));
                    if between_negated || text::negated_before(words, clause.clone(), a, 3) {
                        continue;
                    }
                    return Some(ObjectionHit {
                        kind: entry.kind,
                        phrase: format!("{} … {}", words[ti], words[ci]),
                        score: 0.8,
                        sentence: ts.sentence.original.clone(),
                    });
                }
            }
        }
        None
    }
}

/// Aligns a phrase fuzzily inside a sentence (local in the sentence, global in the phrase):
/// words may match by stem or small edit distance, one phrase word may match two text
/// words ("vp" ~ "v p") or the reverse, function words may be swapped or dropped, and text
/// words may be inserted at a cost. Returns the best alignment and its score
/// (weighted matched words / phrase weight, minus penalties); `None` when it cannot
/// reach `min_score`.
fn align(
    phrase: &CompiledPhrase,
    ts: &TextSentence,
    strict: bool,
    min_score: f32,
) -> Option<Alignment> {
    const SPLIT_PENALTY: f32 = 0.1;
    const INSERT_PENALTY: f32 = 0.2;
    const SWAP_PENALTY: f32 = 0.05;
    const CONTENT_SKIP_PENALTY: f32 = 0.25;
    let p = &phrase.words;
    let ps = &phrase.stems;
    let t = &ts.sentence.words;
    let tst = &ts.stems;
    let (n, m) = (p.len(), t.len());
    if n == 0 || m == 0 {
        return None;
    }
    let rows: Vec<Rc<[f32]>> = (0..n).map(|i| ts.row(&p[i], &ps[i], strict)).collect();
    // Cheap rejection: an upper bound of the score, each phrase word at its best match
    // anywhere (a split or joined word counts as a full match), must reach `min_score`.
    let best_possible: f32 = (0..n)
        .map(|i| {
            let joinable =
                (0..m).any(|j| p[i].starts_with(t[j].as_str()) || t[j].starts_with(p[i].as_str()));
            let best = if joinable {
                1.0
            } else {
                rows[i].iter().copied().fold(0.0, f32::max)
            };
            phrase.weights[i] * best
        })
        .sum();
    if best_possible < min_score * phrase.total {
        return None;
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        None,
        Start,
        Match,
        Split,
        Merge,
        Skip,
        Insert,
    }
    let w = n + 1;
    let idx = |i: usize, j: usize| j * w + i;
    let mut dp = vec![f32::NEG_INFINITY; (m + 1) * w];
    let mut back = vec![Op::None; (m + 1) * w];
    for j in 0..=m {
        dp[idx(0, j)] = 0.0;
        back[idx(0, j)] = Op::Start;
    }
    let relax = |dp: &mut Vec<f32>, back: &mut Vec<Op>, i: usize, j: usize, v: f32, op: Op| {
        if v > dp[idx(i, j)] {
            dp[idx(i, j)] = v;
            back[idx(i, j)] = op;
        }
    };
    let sim = |a: &str, sa: &str, b: &str, sb: &str| text::similarity_stemmed(a, sa, b, sb, strict);
    for j in 0..=m {
        for i in 0..=n {
            let v = dp[idx(i, j)];
            if v == f32::NEG_INFINITY {
                continue;
            }
            if i < n && j < m {
                let s = rows[i][j];
                if s > 0.0 {
                    relax(
                        &mut dp,
                        &mut back,
                        i + 1,
                        j + 1,
                        v + phrase.weights[i] * s,
                        Op::Match,
                    );
                } else if !strict && text::is_stopword(&p[i]) && text::is_stopword(&t[j]) {
                    // A swapped function word: "my VP" for "our VP".
                    relax(
                        &mut dp,
                        &mut back,
                        i + 1,
                        j + 1,
                        v - SWAP_PENALTY,
                        Op::Match,
                    );
                }
            }
            if i < n && j + 1 < m && p[i].starts_with(t[j].as_str()) {
                let joined = format!("{}{}", t[j], t[j + 1]);
                let s = sim(&p[i], &ps[i], &joined, &text::stem(&joined));
                if s >= 0.75 {
                    relax(
                        &mut dp,
                        &mut back,
                        i + 1,
                        j + 2,
                        v + phrase.weights[i] * s - SPLIT_PENALTY,
                        Op::Split,
                    );
                }
            }
            if i + 1 < n && j < m && t[j].starts_with(p[i].as_str()) {
                let joined = format!("{}{}", p[i], p[i + 1]);
                let s = sim(&joined, &text::stem(&joined), &t[j], &tst[j]);
                if s >= 0.75 {
                    relax(
                        &mut dp,
                        &mut back,
                        i + 2,
                        j + 1,
                        v + (phrase.weights[i] + phrase.weights[i + 1]) * s - SPLIT_PENALTY,
                        Op::Merge,
                    );
                }
            }
            if i < n && !strict {
                let penalty = if phrase.weights[i] < 1.0 {
                    0.0
                } else {
                    CONTENT_SKIP_PENALTY * phrase.weights[i]
                };
                relax(&mut dp, &mut back, i + 1, j, v - penalty, Op::Skip);
            }
            if i > 0 && i < n && j < m && !strict {
                relax(&mut dp, &mut back, i, j + 1, v - INSERT_PENALTY, Op::Insert);
            }
        }
    }
    let (end, best) = (0..=m)
        .map(|j| (j, dp[idx(n, j)]))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
    if best <= 0.0 {
        return None;
    }
    // Walk back for the start and the inserted words.
    let (mut i, mut j) = (n, end);
    let mut inserted = Vec::new();
    let mut matched_any = false;
    loop {
        match back[idx(i, j)] {
            Op::Start | Op::None => break,
            Op::Match => {
                matched_any = true;
                i -= 1;
                j -= 1;
            }
            Op::Split => {
                matched_any = true;
                i -= 1;
                j -= 2;
            }
            Op::Merge => {
                matched_any = true;
                i -= 2;
                j -= 1;
            }
            Op::Skip => i -= 1,
            Op::Insert => {
                j -= 1;
                inserted.push(j);
            }
        }
    }
    // A few inserted words are Whisper noise or filler ("run it by our, um, VP"); many
    // mean the words only happen to occur in order ("not locked into anything right now"
    // is not "not right now").
    if !matched_any || inserted.len() > 1 + n / 4 {
        return None;
    }
    Some(Alignment {
        start: j,
        end,
        score: (best / phrase.total).min(1.0),
        inserted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher() -> ObjectionMatcher {
        ObjectionMatcher::new(Arc::new(ObjectionLibrary::builtin()))
    }

    fn prep_with(competitors: &[&str]) -> CallPrep {
        CallPrep {
            competitors: competitors.iter().map(|s| s.to_string()).collect(),
            ..CallPrep::default()
        }
    }

    fn kinds(text: &str, prep: &CallPrep) -> Vec<ObjectionType> {
        matcher()
            .find(text, Speaker::Prospect, prep)
            .into_iter()
            .map(|h| h.kind)
            .collect()
    }

    fn first_kind(text: &str) -> Option<ObjectionType> {
        kinds(text, &CallPrep::default()).first().copied()
    }

    #[test]
    fn builtin_library_is_valid_and_rich() {
        let lib = ObjectionLibrary::builtin();
        for kind in ObjectionType::ALL {
            let e = lib.entry(kind);
            assert!(
                e.phrases.len() >= 30,
                "{kind}: only {} phrases",
                e.phrases.len()
            );
            assert!(!lib.response(kind).is_empty());
        }
    }

    #[test]
    fn each_type_from_realistic_phrasings() {
        use ObjectionType::*;
        let cases: &[(&str, ObjectionType)] = &[
            (
                "Honestly that's way more than we budgeted for this year.",
                Price,
            ),
            ("Yeah, it's just too expensive for a team our size.", Price),
            ("Our budget is really tight right now.", Price),
            ("We can't afford it at that price.", Price),
            ("It's not this quarter, we have too much going on.", Timing),
            (
                "Timing is a problem, we're in the middle of a migration.",
                Timing,
            ),
            ("Maybe next quarter, let's revisit then.", Timing),
            (
                "I'd have to run it by our VP before we go further.",
                Authority,
            ),
            (
                "It's not my decision, our CFO signs off on tools.",
                Authority,
            ),
            (
                "The board needs to approve anything over fifty thousand.",
                Authority,
            ),
            ("Honestly we're fine with spreadsheets.", Need),
            ("I don't think we need this, what we have works.", Need),
            ("It's more of a nice to have for us.", Need),
            (
                "We're locked into a contract with Gong until spring.",
                Competitor,
            ),
            (
                "We just renewed with another vendor last month.",
                Competitor,
            ),
            (
                "We're also talking to a couple of other vendors.",
                Competitor,
            ),
            // Phrasings the labelled calls taught the library.
            (
                "Fifty thousand? That's more than we make in a good month.",
                Price,
            ),
            ("Honestly, that's a lot for us.", Price),
            ("We can't afford to spend that much.", Price),
            ("This is not a priority this quarter.", Timing),
            ("Look, we are in the middle of an audit.", Timing),
            ("But I'd have to run it by our CFO.", Authority),
            ("She makes all the software decisions.", Authority),
            ("Like I said, it's really her call, not mine.", Authority),
            ("Honestly, I'm not sure we need software for this.", Need),
        ];
        let mut wrong = Vec::new();
        for (text, want) in cases {
            let got = kinds(text, &CallPrep::default());
            if !got.contains(want) {
                wrong.push(format!("{text:?}: want {want}, got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn survives_whisper_misspellings() {
        assert_eq!(
            first_kind("that's way more then we budgetted"),
            Some(ObjectionType::Price)
        );
        assert_eq!(
            first_kind("I'd have to run it by our v p"),
            Some(ObjectionType::Authority)
        );
        assert_eq!(
            first_kind("i would have to run it by my V.P."),
            Some(ObjectionType::Authority)
        );
        assert_eq!(
            first_kind("were locked into a contrct with them"),
            Some(ObjectionType::Competitor)
        );
        assert_eq!(
            first_kind("we're fine with spread sheets"),
            Some(ObjectionType::Need)
        );
        assert_eq!(first_kind("its to expensive"), Some(ObjectionType::Price));
    }

    #[test]
    fn rep_speech_never_raises_an_objection() {
        let m = matcher();
        let prep = prep_with(&["Gong"]);
        for text in [
            "Is price a concern?",
            "Our competitor Gong is way more expensive.",
            "Is that way more than you budgeted?",
            "Would you have to run it by your VP?",
        ] {
            assert!(m.find(text, Speaker::Rep, &prep).is_empty(), "{text}");
        }
        // The same words from the prospect do match, so the test above can fail.
        assert!(!m
            .find(
                "Our competitor Gong is way more expensive.",
                Speaker::Prospect,
                &prep
            )
            .is_empty());
    }

    #[test]
    fn negations_do_not_fire() {
        for text in [
            "Price isn't an issue for us.",
            "Budget is not a problem.",
            "Timing's fine.",
            "Honestly the timing is fine, no problem there.",
            "It's not that it's too expensive, we just need to see it work.",
            "We're not fine with spreadsheets anymore, they break every week.",
            "We have no budget issues this year.",
            "We don't use Gong anymore.",
            "Cost is not a concern.",
        ] {
            let got = kinds(text, &prep_with(&["Gong"]));
            assert!(got.is_empty(), "{text:?} gave {got:?}");
        }
        // Positive twins of the negated lines do fire.
        assert_eq!(
            first_kind("Price is an issue for us."),
            Some(ObjectionType::Price)
        );
        assert_eq!(
            first_kind("Budget is a problem."),
            Some(ObjectionType::Price)
        );
        assert_eq!(first_kind("Timing is bad."), Some(ObjectionType::Timing));
    }

    #[test]
    fn a_no_that_opens_the_answer_does_not_negate() {
        assert_eq!(
            first_kind("No, we're locked into a contract until spring."),
            Some(ObjectionType::Competitor)
        );
        assert_eq!(
            first_kind("No. Not this quarter."),
            Some(ObjectionType::Timing)
        );
    }

    #[test]
    fn prep_competitors_are_triggers() {
        let prep = prep_with(&["Gong", "Chorus AI"]);
        assert_eq!(
            kinds("We've been using Gong for a while.", &prep),
            vec![ObjectionType::Competitor]
        );
        assert_eq!(
            kinds("Chorus AI gave us a demo last week.", &prep),
            vec![ObjectionType::Competitor]
        );
        // Names are matched strictly: "going" is not "Gong".
        assert!(kinds("How is it going on your side", &prep).is_empty());
        assert!(kinds("We've been using Gong for a while.", &CallPrep::default()).is_empty());
    }

    #[test]
    fn benign_prospect_lines_raise_nothing() {
        for text in [
            "We track the pipeline in a shared sheet and update it on Mondays.",
            "Our team is about forty people across two offices.",
            "That sounds great, can you show me the reporting part?",
            "We'd love to see how the forecasting works.",
            "How much does it cost?",
            "Is the price per seat or per team?",
            "Yeah, that makes sense.",
            "We're going to grow the team next year.",
            "Right now we use HubSpot for the CRM.",
            "I'm the one who signs off on tools like this.",
            "The timeline is flexible on our side.",
            "Our budget for this is already approved.",
            "We need this live before the end of the quarter.",
            "My boss is really excited about this.",
            "Can you send over the pricing?",
            "Most of the reporting happens by hand at the end of each month right now.",
            "We tried a couple of tools a few years ago but nothing really stuck.",
            // The prospect holds the authority: not an authority objection.
            "I make all the decisions here.",
            "I sign off on anything like this.",
            "It's really my call.",
            // The cost of not acting is urgency, not price.
            "Spring is when we can't afford to lose a crew.",
            "We can't afford to wait another season.",
        ] {
            let got = kinds(text, &CallPrep::default());
            assert!(got.is_empty(), "{text:?} gave {got:?}");
        }
    }

    #[test]
    fn bad_library_files_get_clear_errors() {
        let err =
            ObjectionLibrary::from_toml_str("[price]\nphrases = []\nresponses=['x']\n", "lib.toml")
                .unwrap_err()
                .to_string();
        assert!(err.contains("lib.toml") && err.contains("timing"), "{err}");
        let mut text = BUILTIN_LIBRARY_TOML.replace(
            "[need]\nlabel = \"Need\"",
            "[need]\nlabel = \"Need\"\nbogus = 1",
        );
        let err = ObjectionLibrary::from_toml_str(&text, "lib.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
        text = BUILTIN_LIBRARY_TOML.replace("min_score = 0.8", "min_score = 3.0");
        let err = ObjectionLibrary::from_toml_str(&text, "lib.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("matching.min_score"), "{err}");
        let err = ObjectionLibrary::load(Path::new("/nonexistent/objections.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/objections.toml"), "{err}");
    }
}
