//! Text analysis of transcript lines, shared by the live coach and the post-call brief:
//! normalisation, stemming and fuzzy word similarity, negation, and detection of
//! questions, next steps, deferrals ("I'll check on that") and corrections.
//!
//! Pure functions without state, callable from any thread. The input is Whisper output,
//! so every rule tolerates missing punctuation, dropped apostrophes ("dont", "ill"),
//! numbers written as words ("thirty minutes", "the fourteenth") and small misspellings.
//!
//! The phrase lists these readers use are data, `config/language.toml`; the grammar
//! around them (weekdays, months, clock times, negation, clauses) is code.

use std::sync::OnceLock;

use serde::Deserialize;

/// One sentence of a transcript line, normalised, with its clause boundaries.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    /// The sentence as it was written (trimmed), for excerpts.
    pub original: String,
    /// Normalised words: lowercase, no punctuation, contractions expanded
    /// ("isn't" -> "is not"), number words as digits ("two hundred" -> "200",
    /// "fourteenth" -> "14th"), fillers ("um", "uh") removed.
    pub words: Vec<String>,
    /// Index in `words` where each clause starts; the first is always 0.
    /// Clauses end at commas, semicolons, colons, dashes and before "but"/"though".
    pub clause_starts: Vec<usize>,
    /// Whether the sentence ended with a question mark.
    pub question_mark: bool,
}

impl Sentence {
    /// The clauses of this sentence as word slices.
    pub fn clauses(&self) -> impl Iterator<Item = &[String]> + '_ {
        self.clause_ranges().map(move |r| &self.words[r])
    }

    /// The clauses of this sentence as index ranges into `words`.
    pub fn clause_ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let n = self.words.len();
        self.clause_starts.iter().enumerate().map(move |(i, &s)| {
            let e = self.clause_starts.get(i + 1).copied().unwrap_or(n);
            s..e
        })
    }

    /// The clause range that contains word index `i`.
    pub fn clause_of(&self, i: usize) -> std::ops::Range<usize> {
        self.clause_ranges()
            .find(|r| r.contains(&i))
            .unwrap_or(i..i + 1)
    }
}

/// A concrete next step found in a line: a date, day or time together with an
/// action or agreement ("let's book 30 minutes on Friday").
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NextStepMatch {
    /// The sentence that holds the next step, as written.
    pub phrase: String,
    /// The time expression, normalised ("next thursday", "tuesday at 2").
    pub when: String,
    /// True when it is only proposed ("does Tuesday at 2 work?", "maybe Friday"),
    /// so it still needs the other side's agreement.
    pub tentative: bool,
    /// Only a time, no action ("July first.", "Thursday at eleven."): an answer that
    /// agrees to a proposal, or a bare fact; never a next step on its own.
    #[serde(default)]
    pub time_only: bool,
}

// ---------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------

enum Piece {
    Word(String),
    ClauseBreak,
    /// A sentence ends; `end` is the char index just past its terminator.
    SentenceBreak {
        question: bool,
        end: usize,
    },
}

/// Splits raw text into words and punctuation breaks. Keeps apostrophes inside
/// words (contractions), decimal points and thousands separators inside numbers,
/// and does not end a sentence inside dotted abbreviations ("v.p.", "p.m.").
fn lex(folded: &[char]) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, pieces: &mut Vec<Piece>| {
        if !word.is_empty() {
            pieces.push(Piece::Word(std::mem::take(word)));
        }
    };
    let n = folded.len();
    for i in 0..n {
        let c = folded[i];
        let prev = if i > 0 { folded[i - 1] } else { ' ' };
        let next = if i + 1 < n { folded[i + 1] } else { ' ' };
        if c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        if c == '\'' && prev.is_alphabetic() && next.is_alphabetic() {
            word.push(c);
            continue;
        }
        if c == '.' && prev.is_ascii_digit() && next.is_ascii_digit() {
            word.push(c);
            continue;
        }
        if c == ',' && prev.is_ascii_digit() && next.is_ascii_digit() {
            // "50,000": a thousands separator, not a clause break.
            let digits_after = folded[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if digits_after == 3 {
                continue;
            }
        }
        let single_letter_word =
            word.chars().count() == 1 && word.chars().all(|c| c.is_alphabetic());
        flush(&mut word, &mut pieces);
        match c {
            '.' => {
                // "v.p." / "p.m.": a dot after a single letter that is followed by a
                // letter, or that closes such a run, is an abbreviation, not a full stop.
                let opens_abbrev = single_letter_word && next.is_alphabetic();
                let closes_abbrev = single_letter_word && i >= 2 && folded[i - 2] == '.';
                if !(opens_abbrev || closes_abbrev) {
                    pieces.push(Piece::SentenceBreak {
                        question: false,
                        end: i + 1,
                    });
                }
            }
            '!' | '…' => pieces.push(Piece::SentenceBreak {
                question: false,
                end: i + 1,
            }),
            '?' => pieces.push(Piece::SentenceBreak {
                question: true,
                end: i + 1,
            }),
            ':' if prev.is_ascii_digit() && next.is_ascii_digit() => {} // 10:30
            ',' | ';' | ':' | '—' | '–' | '(' | ')' => pieces.push(Piece::ClauseBreak),
            '-' if prev.is_alphanumeric() && next.is_alphanumeric() => {} // twenty-five
            '-' => pieces.push(Piece::ClauseBreak),
            '%' => pieces.push(Piece::Word("percent".into())),
            '&' => pieces.push(Piece::Word("and".into())),
            _ => {}
        }
    }
    flush(&mut word, &mut pieces);
    pieces
}

const FILLERS: &[&str] = &[
    "um", "uh", "erm", "uhm", "umm", "uhh", "hmm", "hm", "mm", "mhm", "ah",
];

/// Contractions Whisper writes with or without the apostrophe.
fn expand_contraction(w: &str) -> Option<&'static [&'static str]> {
    Some(match w {
        "can't" | "cant" | "cannot" => &["can", "not"],
        "won't" => &["will", "not"],
        "shan't" => &["shall", "not"],
        "ain't" => &["is", "not"],
        "let's" | "lets" => &["let", "us"],
        "dont" => &["do", "not"],
        "doesnt" => &["does", "not"],
        "didnt" => &["did", "not"],
        "isnt" => &["is", "not"],
        "arent" => &["are", "not"],
        "wasnt" => &["was", "not"],
        "werent" => &["were", "not"],
        "havent" => &["have", "not"],
        "hasnt" => &["has", "not"],
        "hadnt" => &["had", "not"],
        "couldnt" => &["could", "not"],
        "wouldnt" => &["would", "not"],
        "shouldnt" => &["should", "not"],
        "im" => &["i", "am"],
        "ive" => &["i", "have"],
        "ill" => &["i", "will"],
        "youre" => &["you", "are"],
        "youll" => &["you", "will"],
        "youve" => &["you", "have"],
        "theyre" => &["they", "are"],
        "theyve" => &["they", "have"],
        "weve" => &["we", "have"],
        "thats" => &["that", "is"],
        "whats" => &["what", "is"],
        "theres" => &["there", "is"],
        "itll" => &["it", "will"],
        "wont" => &["will", "not"],
        "gonna" => &["going", "to"],
        "wanna" => &["want", "to"],
        "gotta" => &["got", "to"],
        "o'clock" => &["oclock"],
        _ => return None,
    })
}

/// Expands one lexed word into normalised words (before number folding).
fn expand_word(raw: &str, out: &mut Vec<String>) {
    let w = raw.trim_matches('\'');
    if w.is_empty() || FILLERS.contains(&w) {
        return;
    }
    if let Some(parts) = expand_contraction(w) {
        out.extend(parts.iter().map(|s| s.to_string()));
        return;
    }
    if let Some(base) = w.strip_suffix("n't") {
        out.push(base.to_string());
        out.push("not".into());
        return;
    }
    for (suffix, full) in [
        ("'re", "are"),
        ("'ve", "have"),
        ("'ll", "will"),
        ("'d", "would"),
        ("'m", "am"),
        ("'s", "is"),
    ] {
        if let Some(base) = w.strip_suffix(suffix) {
            // "'s" is "is" or a possessive; reading it as "is" is harmless for matching
            // ("timing's fine" -> "timing is fine", "the vp's call" -> "the vp is call").
            out.push(base.to_string());
            out.push(full.into());
            return;
        }
    }
    // "2pm", "30min", "10am": split a number from its unit. Keep "14th", "3rd", "50k".
    let digits: String = w
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    if !digits.is_empty() && digits.len() < w.len() {
        let rest = &w[digits.len()..];
        if !matches!(rest, "st" | "nd" | "rd" | "th" | "k" | "m") {
            out.push(digits);
            out.push(rest.to_string());
            return;
        }
    }
    out.push(w.to_string());
}

fn unit_value(w: &str) -> Option<u64> {
    const UNITS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    UNITS.iter().position(|u| *u == w).map(|p| p as u64)
}

fn tens_value(w: &str) -> Option<u64> {
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    TENS.iter()
        .position(|u| *u == w)
        .map(|p| (p as u64 + 2) * 10)
}

fn ordinal_value(w: &str) -> Option<u64> {
    const ORD: [&str; 20] = [
        "zeroth",
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
    ];
    if let Some(p) = ORD.iter().position(|u| *u == w) {
        return Some(p as u64);
    }
    match w {
        "twentieth" => Some(20),
        "thirtieth" => Some(30),
        _ => None,
    }
}

fn ordinal_suffix(n: u64) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// Folds number words into digits: "two hundred" -> "200", "twenty five" -> "25",
/// "two thirty" -> "2 30" (a clock time stays two numbers), "twenty first" -> "21st".
fn fold_numbers(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if let Some(o) = ordinal_value(w) {
            out.push(format!("{o}{}", ordinal_suffix(o)));
            i += 1;
            continue;
        }
        let starts_number = unit_value(w).is_some()
            || tens_value(w).is_some()
            || matches!(w, "hundred" | "thousand");
        if !starts_number {
            out.push(words[i].clone());
            i += 1;
            continue;
        }
        // Accumulate one number.
        let mut total: u64 = 0;
        let mut current: u64 = 0;
        #[derive(PartialEq, Clone, Copy)]
        enum Last {
            None,
            Unit,
            Tens,
            Hundred,
            Thousand,
        }
        let mut last = Last::None;
        let mut ordinal = false;
        while i < words.len() {
            let w = words[i].as_str();
            if let Some(u) = unit_value(w) {
                // A unit after a unit or a teen starts a new number ("two thirty" stays apart
                // at the tens check below; "one two" is two numbers).
                if last == Last::Unit || (last == Last::Tens && u >= 10) {
                    break;
                }
                current += u;
                last = Last::Unit;
            } else if let Some(t) = tens_value(w) {
                if last == Last::Unit || last == Last::Tens {
                    break;
                }
                current += t;
                last = Last::Tens;
            } else if w == "hundred" {
                current = current.max(1) * 100;
                last = Last::Hundred;
            } else if w == "thousand" {
                total += current.max(1) * 1000;
                current = 0;
                last = Last::Thousand;
            } else if w == "and"
                && last == Last::Hundred
                && words
                    .get(i + 1)
                    .is_some_and(|n| unit_value(n).is_some() || tens_value(n).is_some())
            {
                // "two hundred and fifty"
            } else if let Some(o) = ordinal_value(w).filter(|o| *o < 10 && last == Last::Tens) {
                current += o;
                ordinal = true;
                i += 1;
                break;
            } else {
                break;
            }
            i += 1;
        }
        let n = total + current;
        if ordinal {
            out.push(format!("{n}{}", ordinal_suffix(n)));
        } else {
            out.push(n.to_string());
        }
    }
    // "2 p m" -> "2 pm"; "10 a m" -> "10 am".
    let mut merged: Vec<String> = Vec::with_capacity(out.len());
    let mut j = 0;
    while j < out.len() {
        let after_digit = merged
            .last()
            .is_some_and(|w: &String| w.chars().all(|c| c.is_ascii_digit()));
        if after_digit
            && (out[j] == "p" || out[j] == "a")
            && out.get(j + 1).is_some_and(|w| w == "m")
        {
            merged.push(format!("{}m", out[j]));
            j += 2;
            continue;
        }
        if out[j] == "o" && out.get(j + 1).is_some_and(|w| w == "clock") {
            merged.push("oclock".into());
            j += 2;
            continue;
        }
        merged.push(std::mem::take(&mut out[j]));
        j += 1;
    }
    merged
}

/// Words that open a new clause for negation and question scope.
const CLAUSE_OPENERS: &[&str] = &["but", "although", "though", "however"];

/// Splits a transcript line into normalised sentences.
/// Whisper hears a sentence-opening "How's Thursday…" as "House Thursday…"; every
/// reader (next steps, questions, the stance model) sees the repaired words.
fn repair_misheard_opening(words: &mut Vec<String>, clause_starts: &mut [usize]) {
    let opens_a_time = |w: &String| WEEKDAYS.contains(&w.as_str()) || w == "tomorrow" || w == "the";
    if words.first().is_some_and(|w| w == "house") && words.get(1).is_some_and(opens_a_time) {
        words.splice(0..1, ["how".to_string(), "is".to_string()]);
        for c in clause_starts.iter_mut().skip(1) {
            *c += 1;
        }
    }
}

pub fn sentences(text: &str) -> Vec<Sentence> {
    let original: Vec<char> = text.chars().collect();
    // One lowercase char per original char, so sentence spans index both.
    let folded: Vec<char> = original
        .iter()
        .map(|c| match c {
            '’' | '‘' | '`' | '´' => '\'',
            c => c.to_lowercase().next().unwrap_or(*c),
        })
        .collect();
    let mut out = Vec::new();
    let mut clauses: Vec<Vec<String>> = vec![Vec::new()];
    let mut raw_clause: Vec<String> = Vec::new();
    let mut sentence_start = 0usize;
    let finish_clause = |raw: &mut Vec<String>, clauses: &mut Vec<Vec<String>>| {
        let mut expanded = Vec::new();
        for w in raw.drain(..) {
            expand_word(&w, &mut expanded);
        }
        let words = fold_numbers(expanded);
        // Split further before "but" / "though".
        let mut cur: Vec<String> = Vec::new();
        for w in words {
            if CLAUSE_OPENERS.contains(&w.as_str()) && !cur.is_empty() {
                clauses.push(std::mem::take(&mut cur));
            }
            cur.push(w);
        }
        if !cur.is_empty() {
            clauses.push(cur);
        }
    };
    let mut finish_sentence =
        |clauses: &mut Vec<Vec<String>>, start: usize, end: usize, question: bool| {
            let mut words = Vec::new();
            let mut clause_starts = Vec::new();
            for c in clauses.drain(..).filter(|c| !c.is_empty()) {
                clause_starts.push(words.len());
                words.extend(c);
            }
            repair_misheard_opening(&mut words, &mut clause_starts);
            let original_text: String = original[start.min(end)..end]
                .iter()
                .collect::<String>()
                .trim()
                .to_string();
            if !words.is_empty() {
                out.push(Sentence {
                    original: original_text,
                    words,
                    clause_starts,
                    question_mark: question,
                });
            }
        };
    for piece in lex(&folded) {
        match piece {
            Piece::Word(w) => raw_clause.push(w),
            Piece::ClauseBreak => finish_clause(&mut raw_clause, &mut clauses),
            Piece::SentenceBreak { question, end } => {
                finish_clause(&mut raw_clause, &mut clauses);
                finish_sentence(&mut clauses, sentence_start, end, question);
                sentence_start = end;
            }
        }
    }
    finish_clause(&mut raw_clause, &mut clauses);
    finish_sentence(&mut clauses, sentence_start, original.len(), false);
    out
}

/// All normalised words of a line (see [`Sentence::words`]).
pub fn words(text: &str) -> Vec<String> {
    sentences(text).into_iter().flat_map(|s| s.words).collect()
}

/// A line normalised to lowercase words separated by single spaces
/// ("That's way more than we budgeted!" -> "that is way more than we budgeted").
pub fn normalize(text: &str) -> String {
    words(text).join(" ")
}

/// How many words were spoken, as a person would count them: contractions count
/// once, fillers ("um") do not.
pub fn word_count(text: &str) -> usize {
    text.split(|c: char| c.is_whitespace() || c == '-' || c == '—')
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty() && !FILLERS.contains(&w.as_str()))
        .count()
}

// ---------------------------------------------------------------------------
// Stemming and fuzzy similarity
// ---------------------------------------------------------------------------

/// A light English stemmer, enough to make "budgeted", "budgetted", "budgets" and
/// "budget" meet: plural and verb endings are cut, a doubled final consonant is
/// undoubled, a final "e" is dropped. Numbers are returned unchanged.
pub fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    if w.len() <= 3 || w.chars().any(|c| c.is_ascii_digit()) {
        return w;
    }
    let mut s = w.clone();
    if let Some(b) = s.strip_suffix("ies").filter(|b| b.len() >= 2) {
        s = format!("{b}y");
    } else if let Some(b) = s.strip_suffix("sses") {
        s = format!("{b}ss");
    } else if s.ends_with('s')
        && !s.ends_with("ss")
        && !s.ends_with("us")
        && !s.ends_with("is")
        && s.len() > 3
    {
        s.pop();
    }
    for suffix in ["ing", "ed", "ly"] {
        if let Some(b) = s.strip_suffix(suffix) {
            if b.len() >= 3 && b.chars().any(is_vowel) {
                s = b.to_string();
                // "budgett" -> "budget", "runn" -> "run"
                let cs: Vec<char> = s.chars().collect();
                let k = cs.len();
                if k >= 3
                    && cs[k - 1] == cs[k - 2]
                    && !is_vowel(cs[k - 1])
                    && !matches!(cs[k - 1], 'l' | 's' | 'z')
                {
                    s.pop();
                }
                break;
            }
        }
    }
    if s.len() > 3 && s.ends_with('e') {
        s.pop();
    }
    s
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

/// Short words Whisper tiny confuses with each other in running speech.
const CONFUSABLE: &[(&str, &str)] = &[
    ("then", "than"),
    ("our", "are"),
    ("our", "hour"),
    ("to", "too"),
    ("to", "two"),
    ("too", "two"),
    ("too", "2"),
    ("to", "2"),
    ("your", "you"),
    ("were", "where"),
    ("its", "it"),
    ("a", "the"),
    ("in", "and"),
    ("an", "and"),
    ("for", "4"),
    ("by", "buy"),
];

/// Similarity of two normalised words in 0..=1, tolerant of Whisper's spelling:
/// 1.0 for the same stem; for longer words a small edit distance on the stems
/// (short words must match exactly or be a known confusion, "then"/"than").
/// 0.0 means "not the same word".
pub fn word_similarity(a: &str, b: &str) -> f32 {
    similarity(a, b, false)
}

/// Like [`word_similarity`] but stricter for names: words of up to five letters must
/// match exactly ("Gong" is not "going" and not "gone").
pub fn name_similarity(a: &str, b: &str) -> f32 {
    similarity(a, b, true)
}

fn similarity(a: &str, b: &str, strict: bool) -> f32 {
    if a == b {
        return 1.0;
    }
    similarity_stemmed(a, &stem(a), b, &stem(b), strict)
}

/// [`word_similarity`] (or, with `strict`, [`name_similarity`]) with the stems already
/// computed, for matchers that compare one text against many phrases.
pub(crate) fn similarity_stemmed(a: &str, sa: &str, b: &str, sb: &str, strict: bool) -> f32 {
    if a == b {
        return 1.0;
    }
    if !strict
        && CONFUSABLE
            .iter()
            .any(|(x, y)| (a == *x && b == *y) || (a == *y && b == *x))
    {
        return 0.8;
    }
    if sa == sb {
        return 1.0;
    }
    if a.chars().any(|c| c.is_ascii_digit()) || b.chars().any(|c| c.is_ascii_digit()) {
        return 0.0;
    }
    let la = sa.chars().count();
    let lb = sb.chars().count();
    let shorter = la.min(lb);
    let longer = la.max(lb);
    if longer - shorter > 2 {
        return 0.0;
    }
    let d = strsim::levenshtein(sa, sb);
    let allowed = match shorter {
        0..=3 => 0,
        4..=5 if strict => 0,
        // Short words: one substituted letter only ("then"/"than"), never an
        // inserted one ("gong"/"going").
        4..=5 => usize::from(la == lb),
        6..=8 => 1,
        _ => 2,
    };
    if d > allowed {
        return 0.0;
    }
    1.0 - d as f32 / longer as f32
}

/// Function words: weighted lower in phrase matching and skipped when deciding
/// what a text is "about".
pub const STOPWORDS: &[&str] = &[
    "a", "an", "the", "to", "of", "in", "on", "at", "for", "with", "by", "from", "as", "about",
    "into", "we", "our", "us", "i", "me", "my", "you", "your", "it", "its", "is", "are", "was",
    "were", "be", "been", "am", "that", "this", "these", "those", "and", "or", "so", "just", "do",
    "does", "did", "have", "has", "had", "will", "would", "can", "could", "should", "shall",
    "they", "them", "their", "he", "she", "his", "her", "there", "here", "what", "which", "who",
    "how", "when", "where", "why", "if", "then", "than", "some", "any", "all", "really", "very",
    "also", "too", "okay", "ok", "yeah", "yes", "well", "like", "kind", "sort", "get", "got",
    "let", "go", "going", "one", "up", "out", "thing", "things", "lot", "bit", "think",
];

/// True for a function word (see [`STOPWORDS`]).
pub fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// The stems of a line's content words, in order, for "what is this about" matching
/// (agenda coverage, whether a reply addresses an objection).
pub fn content_stems(text: &str) -> Vec<String> {
    words(text)
        .iter()
        .filter(|w| !is_stopword(w) && !NEGATORS.contains(&w.as_str()))
        .map(|w| stem(w))
        .collect()
}

// ---------------------------------------------------------------------------
// Negation
// ---------------------------------------------------------------------------

/// Words that negate what follows them in the same clause.
pub const NEGATORS: &[&str] = &[
    "not", "never", "no", "nothing", "none", "neither", "nor", "without", "hardly", "barely",
];

/// True when `word` is a negator ("not", "never", "no", ...; "isn't" is already "is not").
pub fn is_negator(word: &str) -> bool {
    NEGATORS.contains(&word)
}

/// True when the words `start..end` of `words` are negated from outside: a negator in
/// the `window` words before them within `clause`. A "no" that opens the clause is an
/// answer particle ("No, we're locked in"), not a negation of what follows.
pub fn negated_before(
    words: &[String],
    clause: std::ops::Range<usize>,
    start: usize,
    window: usize,
) -> bool {
    let from = start.saturating_sub(window).max(clause.start);
    (from..start).any(|i| is_negator(&words[i]) && !(i == clause.start && words[i] == "no"))
}

/// True when the clause has a negator anywhere in it.
pub fn has_negation(words: &[String]) -> bool {
    words.iter().any(|w| is_negator(w))
}

// ---------------------------------------------------------------------------
// Word-sequence helpers
// ---------------------------------------------------------------------------

/// Position of `pattern` (space-separated normalised words) as a contiguous run in `words`.
pub fn find_seq(words: &[String], pattern: &str) -> Option<usize> {
    let pat: Vec<&str> = pattern.split_whitespace().collect();
    if pat.is_empty() || pat.len() > words.len() {
        return None;
    }
    (0..=words.len() - pat.len()).find(|&i| pat.iter().enumerate().all(|(k, p)| words[i + k] == *p))
}

fn contains_seq(words: &[String], pattern: &str) -> bool {
    find_seq(words, pattern).is_some()
}

fn contains_any_seq<P: AsRef<str>>(words: &[String], patterns: &[P]) -> bool {
    patterns.iter().any(|p| contains_seq(words, p.as_ref()))
}

fn is_number(w: &str) -> bool {
    !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || c == '.')
}

fn number_of(w: &str) -> Option<u64> {
    if w.chars().all(|c| c.is_ascii_digit()) {
        w.parse().ok()
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Questions
// ---------------------------------------------------------------------------

/// Words that open a clause without carrying its form ("So, do you ...", "Okay and what ...").
const DISCOURSE: &[&str] = &[
    "so",
    "and",
    "but",
    "okay",
    "ok",
    "alright",
    "well",
    "now",
    "also",
    "then",
    "great",
    "cool",
    "perfect",
    "yeah",
    "yes",
    "sure",
    "oh",
    "actually",
    "just",
    "right",
    "gotcha",
    "awesome",
    "interesting",
    "hey",
    "quick",
    "question",
    "real",
    "because",
    "or",
];

const WH: &[&str] = &[
    "what", "why", "how", "when", "where", "who", "which", "whose", "whom",
];

const AUX: &[&str] = &[
    "do", "does", "did", "is", "are", "was", "were", "am", "have", "has", "had", "can", "could",
    "would", "will", "should", "shall", "may", "might", "must",
];

/// Words that can be the subject right after an inverted auxiliary ("do YOU", "is THAT").
const SUBJECTS: &[&str] = &[
    "you",
    "we",
    "they",
    "it",
    "that",
    "this",
    "there",
    "he",
    "she",
    "i",
    "your",
    "the",
    "those",
    "these",
    "anyone",
    "anybody",
    "someone",
    "everyone",
    "anything",
    "any",
    "our",
    "their",
    "his",
    "her",
    "a",
    "an",
    "tuesday",
    "monday",
    "wednesday",
    "thursday",
    "friday",
];

const PRONOUNS: &[&str] = &[
    "i", "we", "you", "they", "he", "she", "it", "our", "my", "your", "their",
];

/// What may follow a wh-word in a question ("how MANY", "what ABOUT", "what KIND of").
const WH_FOLLOWERS: &[&str] = &[
    "many",
    "much",
    "long",
    "often",
    "soon",
    "far",
    "big",
    "come",
    "about",
    "else",
    "if",
    "kind",
    "sort",
    "type",
    "other",
    "exactly",
    "happens",
    "happened",
    "made",
    "makes",
    "drove",
    "drives",
    "led",
    "prompted",
    "matters",
    "worries",
    "tools",
    "tool",
    "system",
    "systems",
    "vendor",
    "vendors",
    "part",
    "percentage",
    "number",
    "one",
    "ones",
    "team",
    "teams",
    "options",
    "would",
    "not",
    "role",
    "stage",
    "timeline",
    "budget",
    "problems",
    "challenges",
];

/// Request forms that are questions without a question's grammar.
const REQUESTS: &[&str] = &[
    "tell me about",
    "tell me more",
    "tell me how",
    "tell me what",
    "tell me why",
    "walk me through",
    "talk me through",
    "take me through",
    "help me understand",
    "i am curious",
    "curious about",
    "curious how",
    "curious what",
    "curious whether",
    "curious if",
    "i wonder",
    "i was wondering",
    "i would love to hear",
    "i would love to know",
    "i would love to understand",
    "i would like to know",
    "i would like to understand",
    "i would like to hear",
    "i want to understand",
    "love to hear",
    "share with me",
    "give me a sense",
    "paint me a picture",
];

/// True when the line asks something, judged from its wording as well as from "?":
/// wh-questions ("how many reps are on the team"), auxiliary inversion ("do you",
/// "would it make sense"), tag questions ("you use Salesforce, right"), and requests
/// ("tell me about", "walk me through"). Embedded clauses are not questions
/// ("what we need is better reporting", "let me show you how it works").
pub fn is_question(text: &str) -> bool {
    sentences(text).iter().any(sentence_is_question)
}

/// The sentences of a line that ask something, as written.
pub fn question_sentences(text: &str) -> Vec<String> {
    sentences(text)
        .into_iter()
        .filter(sentence_is_question)
        .map(|s| s.original)
        .collect()
}

/// For a line with a question: how many words were spoken after its last question
/// sentence (0 when the line ends on the question). `None` when it asks nothing.
/// The coach uses this to tell "asked, then stopped" from "asked and kept talking".
pub fn words_after_last_question(text: &str) -> Option<usize> {
    let ss = sentences(text);
    let last = ss.iter().rposition(sentence_is_question)?;
    Some(ss[last + 1..].iter().map(|s| word_count(&s.original)).sum())
}

/// Whether one sentence is a question.
pub fn sentence_is_question(s: &Sentence) -> bool {
    if s.question_mark {
        return true;
    }
    if REQUESTS.iter().any(|r| contains_seq(&s.words, r)) {
        return true;
    }
    let n_clauses = s.clause_starts.len();
    for (k, clause) in s.clauses().enumerate() {
        let body = skip_discourse(clause);
        if clause_is_question(body) {
            return true;
        }
        if k + 1 == n_clauses && is_tag(clause, k > 0) {
            return true;
        }
        if embedded_question(body) {
            return true;
        }
    }
    false
}

/// A question run into the words before it, as Whisper writes two sentences
/// without their stop and question mark: "Appreciate you telling me what did they
/// quote you", "okay so how long did that take her". Only the inverted form (wh-word,
/// auxiliary, subject) counts: "that's what we did" and "here's how it works" are
/// statements, and "that's what did it" has no subject after the auxiliary.
fn embedded_question(t: &[String]) -> bool {
    const INVERTING: &[&str] = &["do", "does", "did", "are", "is", "was", "were", "can", "could", "would", "will", "should", "have", "has"];
    const PERSONAL: &[&str] = &["you", "we", "they", "he", "she", "i", "your", "our", "their", "his", "her", "the", "that", "this"];
    (1..t.len()).any(|i| {
        let wh = t[i].as_str();
        if !matches!(wh, "what" | "how" | "why" | "when" | "where" | "who" | "which") {
            return false;
        }
        // "how often are your guys", "how long did that", "how many do you".
        let mut j = i + 1;
        if wh == "how" && t.get(j).is_some_and(|w| matches!(w.as_str(), "often" | "long" | "many" | "much" | "soon")) {
            j += 1;
        }
        t.get(j).is_some_and(|a| INVERTING.contains(&a.as_str())) && t.get(j + 1).is_some_and(|s| PERSONAL.contains(&s.as_str()))
    })
}

fn skip_discourse(clause: &[String]) -> &[String] {
    let mut i = 0;
    // Keep at least two words, so "right?" or "so what" is still judged.
    while i + 1 < clause.len() && DISCOURSE.contains(&clause[i].as_str()) {
        i += 1;
    }
    // "I mean, ..." / "let me ask" openers.
    if clause.len() > i + 2 && clause[i] == "i" && clause[i + 1] == "mean" {
        i += 2;
    }
    &clause[i..]
}

fn clause_is_question(t: &[String]) -> bool {
    let Some(first) = t.first() else { return false };
    let first = first.as_str();
    let second = t.get(1).map(String::as_str);
    let third = t.get(2).map(String::as_str);
    if WH.contains(&first) {
        let Some(second) = second else {
            // A bare "why?" / "how?" is a question; "what." alone is too odd to matter.
            return true;
        };
        if first == "which"
            && matches!(
                second,
                "is" | "was" | "means" | "meant" | "makes" | "leaves"
            )
        {
            // "which is why we called", "which means ..." are relative clauses.
            return false;
        }
        if first == "who" {
            // "who else is involved", "who handles renewals": who + verb.
            return !PRONOUNS.contains(&second);
        }
        if first == "how" && second == "about" {
            return true;
        }
        if AUX.contains(&second) {
            // "what is your timeline", "how do you"; not "what is why".
            return !matches!(third, Some("why" | "because"));
        }
        if second == "not" && first == "why" {
            return true;
        }
        return WH_FOLLOWERS.contains(&second);
    }
    if AUX.contains(&first) {
        let subject = if second == Some("not") { third } else { second };
        if let Some(subject) = subject {
            if SUBJECTS.contains(&subject) {
                // "will do" / "would be great" never get here (no subject); "have the team look"
                // is an imperative we accept as a rare false positive.
                return true;
            }
        }
    }
    false
}

/// Tag questions: "..., right", "..., correct", "isn't it", "don't you", "is that right".
fn is_tag(clause: &[String], after_comma: bool) -> bool {
    let n = clause.len();
    if n == 0 {
        return false;
    }
    let last = clause[n - 1].as_str();
    // A tag standing alone after a comma: "You're on HubSpot, right".
    if after_comma
        && n <= 2
        && matches!(last, "right" | "correct" | "yeah" | "no" | "true")
        && !clause.iter().any(|w| w == "all")
    {
        return !(n == 2 && matches!(clause[0].as_str(), "that" | "is" | "all"));
    }
    // Without a comma: "you use salesforce right" but not "that is right" / "all right".
    if last == "right" && n >= 3 {
        let prev = clause[n - 2].as_str();
        if !matches!(
            prev,
            "is" | "are"
                | "was"
                | "all"
                | "alright"
                | "exactly"
                | "just"
                | "the"
                | "on"
                | "turn"
                | "that"
                | "you"
                | "be"
                | "quite"
                | "not"
                | "absolutely"
                | "totally"
        ) {
            return true;
        }
    }
    // "isn't it", "don't you", "wouldn't it" at the end (expanded to "is not it").
    if n >= 3
        && clause[n - 2] == "not"
        && AUX.contains(&clause[n - 3].as_str())
        && PRONOUNS.contains(&last)
    {
        return true;
    }
    contains_any_seq(
        clause,
        &[
            "is that right",
            "is that correct",
            "does that make sense",
            "make sense",
        ],
    ) && n <= 4
}

// ---------------------------------------------------------------------------
// Word lists (config/language.toml)
// ---------------------------------------------------------------------------

/// The phrase data the next-step, acceptance, deferral and correction readers use
/// (`config/language.toml`); the grammar around them stays in this file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lexicon {
    next_step: NextStepWords,
    acceptance: AcceptanceWords,
    deferrals: DeferralWords,
    corrections: CorrectionWords,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NextStepWords {
    after_clock: Vec<String>,
    past_or_recurring: Vec<String>,
    meeting_words: Vec<String>,
    commitment: Vec<String>,
    plan_openers: Vec<String>,
    tentative: Vec<String>,
    refusals: Vec<String>,
    unavailable: Vec<String>,
    points_back: Vec<String>,
    deliverables: Vec<String>,
    time_fillers: Vec<String>,
    bare_time_plans: Vec<String>,
    farewells: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptanceWords {
    yes: Vec<String>,
    dodges: Vec<String>,
    courtesy: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeferralWords {
    phrases: Vec<String>,
    not_deferrals: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorrectionWords {
    phrases: Vec<String>,
    not_contrast: Vec<String>,
}

const LEXICON_TOML: &str = include_str!("../../config/language.toml");

fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(|| toml::from_str(LEXICON_TOML).expect("config/language.toml is valid (tested)"))
}

fn has_word(list: &[String], word: &str) -> bool {
    list.iter().any(|w| w == word)
}

// ---------------------------------------------------------------------------
// Next steps
// ---------------------------------------------------------------------------

const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn is_ordinal_token(w: &str) -> bool {
    let digits: String = w.chars().take_while(|c| c.is_ascii_digit()).collect();
    !digits.is_empty()
        && matches!(&w[digits.len()..], "st" | "nd" | "rd" | "th")
        && digits.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

fn is_day_number(w: &str) -> bool {
    is_ordinal_token(w) || number_of(w).is_some_and(|d| (1..=31).contains(&d))
}


/// A clock time at `i` ("at 2", "at 2 30", "2 pm", "noon"); returns its end index.
fn clock_at(w: &[String], i: usize) -> Option<usize> {
    let word = w[i].as_str();
    if matches!(word, "at" | "by" | "around") {
        if w.get(i + 1).is_some_and(|n| n == "noon" || n == "midday") {
            return Some(i + 2);
        }
        // Whisper writes "at nine" after a date as "at 9th" ("December 9th at 9th").
        let next = w.get(i + 1)?;
        let h = number_of(next).or_else(|| {
            is_ordinal_token(next).then(|| next.trim_end_matches(char::is_alphabetic).parse().ok()).flatten().filter(|h| (1..=12).contains(h))
        })?;
        if !(1..=23).contains(&h) {
            return None;
        }
        let mut end = i + 2;
        if w.get(end)
            .and_then(|m| number_of(m))
            .is_some_and(|m| m < 60 && w[end].len() == 2)
        {
            end += 1;
        }
        match w.get(end) {
            None => Some(end),
            Some(next) if matches!(next.as_str(), "am" | "pm" | "oclock") => Some(end + 1),
            Some(next) if has_word(&lexicon().next_step.after_clock, next) => Some(end),
            // "at 2 30 15 minutes": a duration follows the time (Whisper drops the commas).
            Some(next) if is_number(next) && w.get(end + 1).is_some_and(|m| matches!(m.as_str(), "minutes" | "minute" | "mins")) => Some(end),
            Some(next) if is_number(next) => None,
            // "at 3 sites", "at 2 locations": a count, not a time.
            Some(_) => None,
        }
    } else if number_of(word).is_some_and(|h| (1..=12).contains(&h)) {
        let mut end = i + 1;
        if w.get(end)
            .and_then(|m| number_of(m))
            .is_some_and(|m| m < 60 && w[end].len() == 2)
        {
            end += 1;
        }
        w.get(end)
            .filter(|n| matches!(n.as_str(), "am" | "pm" | "oclock"))
            .map(|_| end + 1)
    } else if word == "noon" {
        Some(i + 1)
    } else {
        None
    }
}

/// Finds a concrete time expression in a clause: its word range `(start, end)`.
/// After a day at `e`: an optional "morning"/"afternoon"/"evening" and clock time;
/// returns where the time expression ends.
fn part_of_day_and_clock(w: &[String], mut e: usize) -> usize {
    if w.get(e).is_some_and(|x| matches!(x.as_str(), "morning" | "afternoon" | "evening")) {
        e += 1;
    }
    if let Some(ce) = (e < w.len()).then(|| clock_at(w, e)).flatten() {
        e = ce;
    }
    e
}

fn find_time(w: &[String]) -> Option<(usize, usize)> {
    let n = w.len();
    for i in 0..n {
        let word = w[i].as_str();
        let prev = if i > 0 { w[i - 1].as_str() } else { "" };
        let mut start = i;
        let end;
        if WEEKDAYS.contains(&word) {
            if matches!(prev, "next" | "this" | "on" | "coming" | "by" | "until") {
                start = i - 1;
            }
            let mut e = i + 1;
            // "Tuesday the 5th", "Tuesday January 5th".
            if w.get(e).is_some_and(|x| x == "the") && w.get(e + 1).is_some_and(|x| is_ordinal_token(x)) {
                e += 2;
                // "Tuesday the 30th of March at 10".
                if w.get(e).is_some_and(|x| x == "of") && w.get(e + 1).is_some_and(|m| MONTHS.contains(&m.as_str())) {
                    e += 2;
                }
            } else if w.get(e).is_some_and(|x| is_ordinal_token(x)) {
                // Whisper drops the article: "Tuesday 15th at 7".
                e += 1;
            } else if w.get(e).is_some_and(|x| MONTHS.contains(&x.as_str())) && w.get(e + 1).is_some_and(|d| is_day_number(d)) {
                e += 2;
            }
            end = part_of_day_and_clock(w, e);
        } else if word == "tomorrow" || word == "tonight" {
            end = part_of_day_and_clock(w, i + 1);
        } else if (word == "this"
            && w.get(i + 1)
                .is_some_and(|x| matches!(x.as_str(), "morning" | "afternoon" | "evening")))
            || (word == "later" && w.get(i + 1).is_some_and(|x| x == "today"))
        {
            end = i + 2;
        } else if word == "today" && (i + 1 < n) && clock_at(w, i + 1).is_some() {
            end = clock_at(w, i + 1)?;
        } else if word == "same" && contains_seq(&w[i..], "same time next week") {
            end = i + 4;
        } else if word == "end"
            && w.get(i + 1).is_some_and(|x| x == "of")
            && w.get(i + 2).is_some_and(|x| x == "day")
        {
            end = i + 3;
        } else if word == "eod" {
            end = i + 1;
        } else if word == "end"
            && contains_any_seq(&w[i..(i + 4).min(n)], &["end of the week", "end of week"])
        {
            end = if w[i + 2] == "the" { i + 4 } else { i + 3 };
        } else if MONTHS.contains(&word) && w.get(i + 1).is_some_and(|d| is_day_number(d)) {
            // "December 9th at 9".
            end = part_of_day_and_clock(w, i + 2);
        } else if is_ordinal_token(word)
            && w.get(i + 1).is_some_and(|x| x == "of")
            && w.get(i + 2).is_some_and(|m| MONTHS.contains(&m.as_str()))
        {
            end = i + 3;
        } else if is_ordinal_token(word)
            && prev == "the"
            // "the 2nd building", "the 1st thing": an ordinal before a noun is no date.
            && w.get(i + 1).is_none_or(|x| {
                matches!(x.as_str(), "at" | "or" | "and" | "works" | "work" | "then" | "is" | "would" | "could" | "in" | "for")
                    || MONTHS.contains(&x.as_str())
                    || WEEKDAYS.contains(&x.as_str())
            })
        {
            start = i - 1;
            // "the 7th at 10".
            end = part_of_day_and_clock(w, i + 1);
        } else if let Some(e) = clock_at(w, i) {
            end = e;
        } else {
            continue;
        }
        return Some((start, end));
    }
    None
}




/// Finds a concrete next step: a specific day, date or time together with an action or
/// agreement ("Tuesday at 2 works", "let's book 30 minutes on Friday", "I'll send the
/// contract tomorrow and we meet on the 14th"). Vague closes give `None` ("I'll send some
/// info", "we'll be in touch", "let's circle back sometime", "next week sometime"), and so
/// do refused, past or habitual times ("Tuesday doesn't work", "last Friday",
/// "we meet every Tuesday").
pub fn detect_next_step(text: &str) -> Option<NextStepMatch> {
    let lex = &lexicon().next_step;
    for s in sentences(text) {
        let ranges: Vec<_> = s.clause_ranges().collect();
        for (k, r) in ranges.iter().enumerate() {
            let clause = &s.words[r.clone()];
            let Some((ts, te)) = find_time(clause) else {
                continue;
            };
            let refuses = |c: &[String]| {
                c.iter().enumerate().any(|(i, w)| {
                    is_negator(w)
                        // "no later than Friday" still commits.
                        && !(w == "no" && c.get(i + 1).is_some_and(|n| n == "later"))
                        // "no problem, ..." opening the clause is an agreement particle.
                        && !(w == "no" && i == 0)
                }) || contains_any_seq(c, &lex.refusals)
            };
            // Scope: this clause plus following clauses that add no time of their own
            // ("Tuesday at 2, if that works for you"); a new "but" clause ends it.
            // A following clause refuses the time only when it is short or points back
            // at it ("Friday at 10, that doesn't work"); Whisper joins sentences with
            // commas, and "Friday at 10, I can't promise our treasurer will join"
            // accepts the time.
            let mut scope: Vec<String> = clause.to_vec();
            let mut negated = refuses(clause);
            for r2 in &ranges[k + 1..] {
                let c2 = &s.words[r2.clone()];
                if find_time(c2).is_some() || CLAUSE_OPENERS.contains(&c2[0].as_str()) {
                    break;
                }
                let points_back = c2.len() <= 5
                    || c2.iter().any(|w| has_word(&lex.points_back, w));
                negated |= points_back && refuses(c2);
                scope.extend_from_slice(c2);
            }
            // The clause just before, without a time of its own, carries a speaker's
            // plan into it ("Then I'll come, Tuesday the 15th at 7"): Whisper writes
            // sentences joined by commas.
            let before: Vec<String> = match k.checked_sub(1).map(|j| &s.words[ranges[j].clone()]) {
                Some(c0) if find_time(c0).is_none() => {
                    negated |= refuses(c0);
                    c0.to_vec()
                }
                _ => Vec::new(),
            };
            if negated
                || scope
                    .iter()
                    .any(|w| has_word(&lex.past_or_recurring, w))
            {
                continue;
            }
            let time_only = clause.iter().enumerate().all(|(i, w)| {
                (ts..te).contains(&i)
                    // A duration: "15 minutes", "twenty minutes".
                    || (is_number(w) && clause.get(i + 1).is_some_and(|m| matches!(m.as_str(), "minutes" | "minute" | "mins")))
                    || has_word(&lex.time_fillers, w)
            });
            // "I'll send you the deck this afternoon": a deliverable, not a meeting.
            let deliverable = |c: &[String]| {
                contains_any_seq(c, &lex.deliverables) && !contains_any_seq(c, &lex.meeting_words)
            };
            let deliverable_only = deliverable(&scope) || (deliverable(&before) && !contains_any_seq(&scope, &lex.meeting_words));
            // From the clause before, only a speaker's plan ("I'll come", "could we"),
            // not a bare verb ("people book, or … Thursday").
            let planned_before = lex
                .commitment
                .iter()
                .filter(|c| c.split(' ').next().is_some_and(|w| has_word(&lex.plan_openers, w)))
                .any(|c| contains_seq(&before, c));
            let has_commitment = !deliverable_only && (planned_before || contains_any_seq(&scope, &lex.commitment));
            if !(has_commitment || time_only) {
                continue;
            }
            // "Thursday at 11 or Friday at 9": a choice offered, not yet agreed.
            let alternatives = clause[te..]
                .iter()
                .position(|w| w == "or")
                .is_some_and(|k| find_time(&clause[te + k + 1..]).is_some());
            // A bare clock time ("at 5") without a day needs an action word to be a plan:
            // "selling out at five is fine" is no meeting.
            let day_less_clock = clause[ts..te].first().is_some_and(|w| w == "at");
            if day_less_clock && !contains_any_seq(&scope, &lex.meeting_words) {
                continue;
            }
            // "Okay, talk Thursday." plans a call; "July first." only names a date.
            let bare_time = time_only
                && !has_commitment
                && !scope.iter().any(|w| has_word(&lex.bare_time_plans, w));
            let tentative = sentence_is_question(&s)
                || alternatives
                || bare_time
                || contains_any_seq(&scope, &lex.tentative)
                || contains_any_seq(&before, &lex.tentative);
            return Some(NextStepMatch {
                phrase: s.original.clone(),
                when: clause[ts..te].join(" "),
                tentative,
                time_only: bare_time,
            });
        }
    }
    None
}

/// What pins a time down, for comparing two mentions of it: weekday, day of the
/// month and clock hour ("thursday the 21st at 11" -> thursday, 21, 11).
#[derive(Debug, Default, PartialEq)]
struct TimeAnchors {
    weekday: Option<String>,
    day: Option<u64>,
    hour: Option<u64>,
}

/// Whether two anchors agree: `None` when either mention leaves it out.
fn agree<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> Option<bool> {
    Some(a.as_ref()? == b.as_ref()?)
}

fn time_anchors(w: &[String]) -> TimeAnchors {
    let mut a = TimeAnchors::default();
    for (i, x) in w.iter().enumerate() {
        if WEEKDAYS.contains(&x.as_str()) {
            a.weekday.get_or_insert_with(|| x.clone());
        } else if matches!(x.as_str(), "at" | "by" | "around") {
            // Read leniently: "at 2 land after the lunch" (Whisper's "at 2, and") still
            // names the hour; `find_time` has already decided there is a time.
            let hour = w.get(i + 1).and_then(|h| number_of(h.trim_end_matches(char::is_alphabetic)));
            a.hour = a.hour.or(hour.filter(|h| (1..=23).contains(h)));
        } else if is_ordinal_token(x) || (i > 0 && MONTHS.contains(&w[i - 1].as_str()) && is_day_number(x)) {
            a.day = a.day.or(number_of(x.trim_end_matches(char::is_alphabetic)));
        }
    }
    a
}

/// True when `text` answers a proposal for `pending_when` by naming the same time
/// again in a statement that does not refuse it: "Well, I suppose if you want to,
/// Thursday at 2 then, after the lunch." or "Monday at 9 at the shop, I'll bring the
/// agreement." agree to "Thursday at 2" / "Monday, nine". A different day or hour is
/// a counter-proposal, a question ("Thursday at 2?") or a dodge ("let me check,
/// Thursday at 2") leaves it open, and a refusal ("Thursday at 2 I'm busy") declines.
pub fn echoes_time(text: &str, pending_when: &str) -> bool {
    let lex = lexicon();
    let pending = time_anchors(&words(pending_when));
    if pending == TimeAnchors::default() {
        return false;
    }
    for s in sentences(text) {
        if sentence_is_question(&s)
            || contains_any_seq(&s.words, &lex.acceptance.dodges)
            || contains_any_seq(&s.words, &lex.next_step.refusals)
            || contains_any_seq(&s.words, &lex.next_step.unavailable)
            || s.words.iter().any(|w| is_negator(w) || has_word(&lex.next_step.past_or_recurring, w))
        {
            continue;
        }
        for clause in s.clauses() {
            let Some((ts, te)) = find_time(clause) else { continue };
            // The time and the two words after it: "Thursday at 2 land" is a time
            // ("Thursday") whose hour `find_time` would not take.
            let said = time_anchors(&clause[ts..(te + 2).min(clause.len())]);
            let checks = [
                agree(&pending.weekday, &said.weekday),
                agree(&pending.day, &said.day),
                agree(&pending.hour, &said.hour),
            ];
            // A clock time said again is a restatement; a bare day may be a fact
            // about it ("I'm working Wednesday").
            if said.hour.is_some() && checks.contains(&Some(true)) && !checks.contains(&Some(false)) {
                return true;
            }
        }
    }
    false
}

/// A counter-proposal to a time on the table: "Thursday at four I'm still on a job.
/// Make it five.", "Make it ten thirty." Returns the time it proposes, the day taken
/// from the line itself or from `pending_when` (the proposal it answers); `None`
/// without either (a bare "make it five" about anything else), or when refused
/// ("I can't make it 5").
pub fn counter_proposal(text: &str, pending_when: Option<&str>) -> Option<String> {
    let all = sentences(text);
    let own_day = all.iter().find_map(|s| {
        s.clauses().find_map(|c| find_time(c).map(|(a, b)| c[a..b].join(" ")))
    });
    // A clock time alone in the line ("the sales meeting at 10") names no day.
    let day = own_day.as_deref().filter(|d| !d.starts_with("at ")).or(pending_when).or(own_day.as_deref())?;
    for s in &all {
        let w = &s.words;
        for i in 0..w.len().saturating_sub(2) {
            if !(w[i] == "make" && w[i + 1] == "it") {
                continue;
            }
            let clause = s.clause_of(i);
            if w[clause.start..i].iter().any(|x| is_negator(x)) {
                continue;
            }
            let rest = &w[i + 2..clause.end.max(i + 2)];
            // "Make it Friday at 10", "make it the 12th".
            if let Some((a, b)) = find_time(rest).filter(|(a, _)| *a == 0) {
                return Some(rest[a..b].join(" "));
            }
            // "Make it five", "make it 10 30": the hour on the day already named.
            let Some(h) = rest.first().and_then(|x| number_of(x)).filter(|h| (1..=12).contains(h)) else {
                continue;
            };
            let minutes = rest
                .get(1)
                .filter(|m| m.len() == 2 && number_of(m).is_some_and(|m| m < 60))
                .map(|m| format!(" {m}"))
                .unwrap_or_default();
            // "Make it 3 seats" counts something; an hour ends the clause.
            let after = &rest[1 + usize::from(!minutes.is_empty())..];
            if !after.iter().all(|x| matches!(x.as_str(), "am" | "pm" | "oclock" | "then" | "instead" | "please")) {
                continue;
            }
            let day_part = day.split(" at ").next().unwrap_or(day).trim();
            let clock_only = day_part.is_empty() || day_part.starts_with("at ");
            return Some(if clock_only { format!("at {h}{minutes}") } else { format!("{day_part} at {h}{minutes}") });
        }
    }
    None
}

/// A sign-off that names the agreed time ("See you on the seventh.", "Talk on the
/// ninth then."): said at the close, it confirms a plan both sides already made.
pub fn is_farewell_confirmation(text: &str) -> bool {
    let w = words(text);
    contains_any_seq(&w, &lexicon().next_step.farewells)
}

/// True when a reply agrees to what was proposed ("yes, that works", "sounds good",
/// "perfect, see you then") without refusing it ("that doesn't work for me").
pub fn is_acceptance(text: &str) -> bool {
    let lex = &lexicon().acceptance;
    // The last sentence that says yes or no decides: "Let me check. Yes, that works."
    // accepts; "Yes. Let me check my calendar and get back to you." does not.
    // A courtesy ("Thanks.", "Bye.") agrees only when nothing before it refused: "No.
    // Thanks." still refuses.
    let mut courtesy = false;
    for s in sentences(text).iter().rev() {
        match sentence_acceptance(&s.words) {
            Some(false) => return false,
            Some(true) if s.words.iter().all(|w| has_word(&lex.courtesy, w)) => courtesy = true,
            Some(true) => return true,
            None => {}
        }
    }
    courtesy
}


/// `Some(true)` for a sentence that agrees, `Some(false)` for one that refuses or
/// dodges, `None` for one that does neither.
fn sentence_acceptance(w: &[String]) -> Option<bool> {
    if w.is_empty() {
        return None;
    }
    // Any negation refuses, except the agreeing idioms "no problem" / "not a problem".
    let agreeing_negation = |i: usize| {
        (w[i] == "no"
            && w.get(i + 1)
                .is_some_and(|n| matches!(n.as_str(), "problem" | "worries")))
            || (w[i] == "not"
                && w.get(i + 1).is_some_and(|n| n == "a")
                && w.get(i + 2).is_some_and(|n| n == "problem"))
    };
    // Dodges: "let me look at my calendar and get back to you", "maybe", "let's see
    // what you send first" leave the proposal open.
    let refused = contains_any_seq(w, &lexicon().acceptance.dodges)
        || (0..w.len()).any(|i| is_negator(&w[i]) && !agreeing_negation(i));
    if refused {
        return Some(false);
    }
    contains_any_seq(w, &lexicon().acceptance.yes).then_some(true)
}

// ---------------------------------------------------------------------------
// Deferrals and corrections
// ---------------------------------------------------------------------------



/// True when the speaker puts off an answer they should know ("I'll check on that",
/// "let me get back to you on that", "I'm not sure, I'd have to ask"). Meant for the
/// rep's lines: several of these point at a product-knowledge gap.
pub fn is_deferral(text: &str) -> bool {
    let lex = &lexicon().deferrals;
    sentences(text).iter().any(|s| {
        contains_any_seq(&s.words, &lex.phrases) && !contains_any_seq(&s.words, &lex.not_deferrals)
    })
}



/// True when the speaker corrects what was said to them: "actually, that's not right",
/// "no, we have 200 people, not 50", "we're on HubSpot, not Salesforce", "actually it's
/// 200 seats". Agreeing ("actually, that sounds great") or declining ("no, we don't need
/// it") is not a correction. Meant for the prospect's lines.
pub fn is_correction(text: &str) -> bool {
    let lex = &lexicon().corrections;
    for s in sentences(text) {
        let w = &s.words;
        if contains_any_seq(w, &lex.phrases) {
            return true;
        }
        // "X, not Y": a short clause starting with "not" after another clause.
        for (k, r) in s.clause_ranges().enumerate() {
            let c = &w[r];
            if k > 0
                && c.len() >= 2
                && c.len() <= 4
                && c[0] == "not"
                && !has_word(&lex.not_contrast, &c[1])
            {
                return true;
            }
        }
        // "X not Y" without the comma, with numbers on both sides: "200 people not 50".
        // "Six still isn't zero" argues; it corrects nothing.
        if let Some(i) = w.iter().position(|x| x == "not").filter(|&i| {
            !(i > 0 && matches!(w[i - 1].as_str(), "is" | "are" | "was" | "were" | "still" | "does" | "do"))
        }) {
            let before_num = w[..i].iter().any(|x| is_number(x));
            if before_num && w.get(i + 1).is_some_and(|x| is_number(x)) {
                return true;
            }
        }
        // "Actually, it's 200 seats" / "Actually we don't use Salesforce" / "No, it's 200".
        let opener = skip_fillers_and(w, &["well", "oh", "so", "um"]);
        if let Some(first) = w.get(opener) {
            let rest = &w[opener + 1..];
            let has_num = rest.iter().any(|x| is_number(x));
            if first == "actually" && (has_num || has_negation(rest)) {
                return true;
            }
            if first == "no"
                && (contains_seq(rest, "actually")
                    || (has_num
                        && contains_any_seq(
                            rest,
                            &[
                                "it is",
                                "we are",
                                "we have",
                                "that is",
                                "there are",
                                "there is",
                            ],
                        )))
            {
                return true;
            }
        }
    }
    false
}

fn skip_fillers_and(w: &[String], skip: &[&str]) -> usize {
    w.iter().take_while(|x| skip.contains(&x.as_str())).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_lists_parse_and_every_entry_is_normalised_text() {
        let lex = lexicon();
        let lists: [(&str, &[String]); 20] = [
            ("next_step.after_clock", &lex.next_step.after_clock),
            ("next_step.past_or_recurring", &lex.next_step.past_or_recurring),
            ("next_step.meeting_words", &lex.next_step.meeting_words),
            ("next_step.commitment", &lex.next_step.commitment),
            ("next_step.plan_openers", &lex.next_step.plan_openers),
            ("next_step.tentative", &lex.next_step.tentative),
            ("next_step.refusals", &lex.next_step.refusals),
            ("next_step.unavailable", &lex.next_step.unavailable),
            ("next_step.points_back", &lex.next_step.points_back),
            ("next_step.deliverables", &lex.next_step.deliverables),
            ("next_step.time_fillers", &lex.next_step.time_fillers),
            ("next_step.bare_time_plans", &lex.next_step.bare_time_plans),
            ("next_step.farewells", &lex.next_step.farewells),
            ("acceptance.yes", &lex.acceptance.yes),
            ("acceptance.dodges", &lex.acceptance.dodges),
            ("acceptance.courtesy", &lex.acceptance.courtesy),
            ("deferrals.phrases", &lex.deferrals.phrases),
            ("deferrals.not_deferrals", &lex.deferrals.not_deferrals),
            ("corrections.phrases", &lex.corrections.phrases),
            ("corrections.not_contrast", &lex.corrections.not_contrast),
        ];
        for (name, list) in lists {
            assert!(!list.is_empty(), "{name} is empty");
            for entry in list {
                // An entry the normaliser would rewrite ("I'll", "two") could never match.
                assert_eq!(&normalize(entry), entry, "{name}: entry is not normalised text");
            }
        }
        // The one-word lists are compared word by word.
        for (name, list) in [
            ("after_clock", &lex.next_step.after_clock),
            ("past_or_recurring", &lex.next_step.past_or_recurring),
            ("plan_openers", &lex.next_step.plan_openers),
            ("points_back", &lex.next_step.points_back),
            ("time_fillers", &lex.next_step.time_fillers),
            ("bare_time_plans", &lex.next_step.bare_time_plans),
            ("courtesy", &lex.acceptance.courtesy),
            ("not_contrast", &lex.corrections.not_contrast),
        ] {
            assert!(list.iter().all(|w| !w.contains(' ')), "{name} holds a phrase, not one word");
        }
    }

    #[test]
    fn normalises_contractions_numbers_and_punctuation() {
        assert_eq!(
            normalize("That's way more than we budgeted!"),
            "that is way more than we budgeted"
        );
        assert_eq!(
            normalize("We have two hundred people, not fifty."),
            "we have 200 people not 50"
        );
        assert_eq!(
            normalize("Let's book thirty minutes on the fourteenth"),
            "let us book 30 minutes on the 14th"
        );
        assert_eq!(
            normalize("dont wont cant isnt"),
            "do not will not can not is not"
        );
        assert_eq!(
            normalize("Tuesday at two thirty p.m."),
            "tuesday at 2 30 pm"
        );
        assert_eq!(
            normalize("at 10:30am, 50,000 seats"),
            "at 10 30 am 50000 seats"
        );
        assert_eq!(
            normalize("I'd have to run it by our V.P."),
            "i would have to run it by our v p"
        );
        assert_eq!(normalize("Um, twenty-five, uh, reps"), "25 reps");
        assert_eq!(normalize("the twenty first"), "the 21st");
    }

    #[test]
    fn sentences_and_clauses_split_where_punctuation_and_but_say() {
        let s = sentences("No, price isn't an issue but timing is. Is that right?");
        assert_eq!(s.len(), 2);
        let clauses: Vec<String> = s[0].clauses().map(|c| c.join(" ")).collect();
        assert_eq!(
            clauses,
            vec!["no", "price is not an issue", "but timing is"]
        );
        assert!(s[1].question_mark);
        assert_eq!(s[1].original, "Is that right?");
    }

    #[test]
    fn stems_meet_across_whisper_spellings() {
        assert_eq!(stem("budgeted"), stem("budgetted"));
        assert_eq!(stem("budgets"), stem("budget"));
        assert_eq!(stem("pricing"), stem("price"));
        assert_eq!(stem("spreadsheets"), "spreadsheet");
        assert!(word_similarity("then", "than") > 0.7);
        assert!(word_similarity("budgeted", "budgetted") > 0.9);
        assert!(word_similarity("contrct", "contract") > 0.8);
        assert_eq!(word_similarity("gong", "going"), 0.0);
        assert_eq!(name_similarity("gong", "gone"), 0.0);
        assert_eq!(word_similarity("need", "feed"), 0.75);
        assert_eq!(word_similarity("not", "now"), 0.0);
        assert_eq!(word_similarity("50", "60"), 0.0);
    }

    #[test]
    fn word_count_counts_spoken_words() {
        assert_eq!(word_count("Yeah."), 1);
        assert_eq!(word_count("Um, I don't know."), 3);
        assert_eq!(word_count(""), 0);
    }

    /// ~30 labelled sentences: precision and recall must both be perfect on this set,
    /// which mixes "?"-less questions with statements that look like questions.
    #[test]
    fn question_detection_on_labelled_sentences() {
        let labelled: &[(&str, bool)] = &[
            ("Do you use Salesforce today", true),
            ("So what does success look like for you", true),
            ("How many reps are on the team", true),
            ("Tell me about your current process.", true),
            ("Walk me through how approvals work", true),
            ("Would it make sense to bring in your VP", true),
            ("You're on HubSpot, right?", true),
            ("You use Salesforce, right", true),
            ("I'm curious how you handle renewals today", true),
            ("Could you share the budget range", true),
            ("Is that something you've looked at", true),
            ("What about the integration with SAP", true),
            ("Who else is involved in the decision", true),
            ("Why did you switch vendors last year", true),
            ("Have you had a chance to look at the proposal", true),
            ("Okay, and when would you want this live", true),
            ("Does that make sense", true),
            ("Where are you in the evaluation", true),
            ("Help me understand what's driving the timeline", true),
            ("Isn't that what you have today", true),
            ("It's a big change for the team, isn't it", true),
            ("What we need is better reporting.", false),
            ("That's right.", false),
            ("How we do it today is mostly spreadsheets.", false),
            ("When we launched, it was chaos.", false),
            ("Which is why we reached out to you.", false),
            ("I'll tell you about our roadmap.", false),
            ("Let me show you how it works.", false),
            ("Our platform saves teams ten hours a week.", false),
            ("Okay, I understand.", false),
            ("That makes sense.", false),
            ("We do a weekly report for the board.", false),
            ("Where we are now is a bit messy", false),
            ("I would like to show you the dashboard", false),
            ("All right, let's get started", false),
        ];
        let mut wrong = Vec::new();
        for (text, want) in labelled {
            if is_question(text) != *want {
                wrong.push(format!("{text:?}: want {want}"));
            }
        }
        assert!(wrong.is_empty(), "misclassified: {wrong:#?}");
    }

    #[test]
    fn words_after_the_last_question_tell_if_the_rep_kept_talking() {
        assert_eq!(
            words_after_last_question("Okay. What's your timeline?"),
            Some(0)
        );
        assert_eq!(
            words_after_last_question("Do you use Salesforce? We integrate natively with it."),
            Some(5)
        );
        assert_eq!(words_after_last_question("We integrate natively."), None);
    }

    /// ~20 labelled sentences for next-step detection.
    #[test]
    fn next_step_detection_on_labelled_sentences() {
        let labelled: &[(&str, bool)] = &[
            ("Tuesday at 2 works for me.", true),
            ("Let's do next Thursday.", true),
            (
                "I'll send the contract tomorrow and we meet on the 14th.",
                true,
            ),
            // A one-sided delivery is not a next step both sides agreed (METHOD: "I'll send some info").
            ("I'll send the proposal by end of day Wednesday.", false),
            ("let's book thirty minutes on friday", true),
            ("I'll send the invite for our call by end of day Wednesday.", true),
            ("Can we put something on the calendar for March 3rd?", true),
            ("Great, see you Monday at 10.", true),
            ("I'll set up the demo for tomorrow at 3pm.", true),
            ("I'll send an invite for the twenty first at 11:30.", true),
            ("I can't do Monday, but Wednesday at 3 works.", true),
            ("Same time next week then.", true),
            ("I could do Thursday at 11 or Friday at 9.", true),
            ("Okay, talk Thursday.", true),
            ("Talk to you Thursday at 10.", true),
            ("I'll send some info.", false),
            ("We'll be in touch.", false),
            ("Let's circle back sometime.", false),
            ("Maybe next quarter we can talk.", false),
            ("I'll send over some materials next week sometime.", false),
            ("Tuesday doesn't work for me.", false),
            ("I can't do Thursday.", false),
            ("We meet every Tuesday internally.", false),
            ("We had a call with them last Friday.", false),
            ("We have 3 sites at 2 locations.", false),
            ("Let's keep in touch.", false),
            ("We talked last Thursday.", false),
            ("We talk to our drivers on Fridays.", false),
            ("We talk to customers on Friday.", false),
            ("I could not do Thursday.", false),
        ];
        let mut wrong = Vec::new();
        for (text, want) in labelled {
            let got = detect_next_step(text);
            if got.is_some() != *want {
                wrong.push(format!("{text:?}: want {want}, got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "misclassified: {wrong:#?}");
    }

    #[test]
    fn next_step_reports_when_and_whether_it_is_only_proposed() {
        let m = detect_next_step("Does Tuesday at 2 work for you?").unwrap();
        assert!(m.tentative);
        assert_eq!(m.when, "tuesday at 2");
        let m = detect_next_step("I could do Thursday at 11 or Friday at 9").unwrap();
        assert!(m.tentative, "a choice of times is an offer");
        assert_eq!(m.when, "thursday at 11");
        let m = detect_next_step("Okay, talk Thursday.").unwrap();
        assert!(!m.tentative);
        let m = detect_next_step("Perfect, Tuesday at 2 it is, I'll send the invite.").unwrap();
        assert!(!m.tentative);
        assert_eq!(
            m.phrase,
            "Perfect, Tuesday at 2 it is, I'll send the invite."
        );
    }

    /// Whisper runs a question into the sentence before it and drops its mark.
    #[test]
    fn questions_run_into_the_sentence_before_them() {
        for q in [
            "Appreciate you telling me what did they quote you for same stuff",
            "Okay so how long did that take her",
            "Right now your orders go straight to the suppliers how often are your guys using that",
        ] {
            assert!(sentence_is_question(&sentences(q)[0]), "{q}");
        }
        for statement in [
            "That's what we did last year",
            "Here's how it works for most shops",
            "Honestly that's what did it for us",
            "I know what you mean",
            "That is why they left",
        ] {
            assert!(!sentence_is_question(&sentences(statement)[0]), "{statement}");
        }
    }

    /// Naming the proposed time again agrees to it; another time, a question, a dodge,
    /// a refusal or a bare day with a fact about it does not (train calls, audio mode).
    #[test]
    fn the_proposed_time_said_again_agrees_to_it() {
        for (reply, pending) in [
            ("Well, I suppose if you want to Thursday at 2 land after the lunch.", "thursday at 2"),
            ("Monday at 9 at the shop. I ring the solo agreement with the March 1st.", "monday"),
            ("Okay, the 21st at 11, I'll be in the office.", "thursday the 21st at 11"),
            ("Yeah, Tuesday at three, my granddaughter can help.", "next tuesday at 3"),
        ] {
            assert!(echoes_time(reply, pending), "{reply} / {pending}");
        }
        for (reply, pending) in [
            ("I'm working Wednesday. I'm working every day.", "wednesday"),
            ("Thursday at 4 I'm still on a job.", "thursday at 4"),
            ("Thursday at 5 would be better for me.", "thursday at 4"),
            ("Friday at 2 then.", "thursday at 2"),
            ("Thursday at 2?", "thursday at 2"),
            ("Let me check, Thursday at 2, maybe.", "thursday at 2"),
            ("Thursday at 2 doesn't work.", "thursday at 2"),
            ("We met Thursday at 2 last time.", "thursday at 2"),
            ("Thursday at 2.", "next week sometime"),
        ] {
            assert!(!echoes_time(reply, pending), "{reply} / {pending}");
        }
        // Whisper's "at 9th" after a date is the hour.
        assert_eq!(detect_next_step("Okay, December 9th at 9th works.").unwrap().when, "december 9th at 9th");
    }

    /// Next steps as Whisper writes them: articles dropped ("Tuesday 15th"), sentences
    /// joined with commas, "How's" heard as "House" (train calls, audio mode).
    #[test]
    fn next_steps_in_whispers_punctuation() {
        let m = detect_next_step("Then I'll come, Tuesday 15th at 7 at the church, 10 minutes at the start.").unwrap();
        assert_eq!(m.when, "tuesday 15th at 7");
        let m = detect_next_step("I guess Friday at 10, I can't promise our treasure will join He's a volunteer").unwrap();
        assert_eq!(m.when, "friday at 10");
        let m = detect_next_step("House Thursday at 10 before open.").unwrap();
        assert!(m.tentative, "a question in Whisper's words: {m:?}");
        // The repair is the normaliser's, so every reader sees it; a real house is kept.
        assert_eq!(sentences("Okay. House Thursday at 10, then?")[1].words[..3], ["how", "is", "thursday"]);
        assert_eq!(sentences("House Thursday, at 10?")[0].clause_starts, [0, 3]);
        assert_eq!(sentences("House painting is on Tuesday.")[0].words[0], "house");
        for refused in [
            "Friday at 10, that doesn't work.",
            "Friday at 10, I can't.",
            "I can't do it, Friday at 10.",
            "We met on Tuesday at two, I'll send the notes.",
        ] {
            assert!(detect_next_step(refused).is_none(), "{refused}");
        }
    }

    #[test]
    fn counter_proposals_move_the_time_on_the_table() {
        assert_eq!(
            counter_proposal("Thursday at 4 I'm still on a job. Make it 5.", None).as_deref(),
            Some("thursday at 5")
        );
        assert_eq!(
            counter_proposal("Make it 10, 30, I have the sales meeting at 10.", Some("thursday 29th")).as_deref(),
            Some("thursday 29th at 10")
        );
        assert_eq!(counter_proposal("Make it 11, mornings are bad.", Some("tuesday at 10")).as_deref(), Some("tuesday at 11"));
        assert_eq!(counter_proposal("Make it Friday at 9.", Some("thursday")).as_deref(), Some("friday at 9"));
        // Nothing on the table, a count, a refusal.
        assert_eq!(counter_proposal("Make it 5.", None), None);
        assert_eq!(counter_proposal("Our trial ends Thursday. Make it 3 seats.", None), None);
        assert_eq!(counter_proposal("I can't make it 5.", Some("thursday")), None);
        assert_eq!(counter_proposal("Can you make it simpler?", Some("thursday")), None);
    }

    #[test]
    fn dates_with_their_month_and_named_availability() {
        let m = detect_next_step("Say Tuesday the thirtieth of March at ten, or Thursday the first of April at two?").unwrap();
        assert_eq!(m.when, "tuesday the 30th of march at 10");
        assert!(m.tentative);
        // "I've got a board meeting Tuesday": having a time is no availability.
        assert!(detect_next_step("I've got a board meeting Tuesday and they're going to ask me about this, so.").is_none());
        assert!(detect_next_step("Are you free Wednesday the ninth?").is_some_and(|m| m.tentative));
        let m = detect_next_step("Wednesday the 9th at 2 30 15 minutes. Should I include your quality lead?").unwrap();
        assert_eq!(m.when, "wednesday the 9th at 2 30");
        assert!(m.time_only, "a bare time with its duration: {m:?}");
    }

    #[test]
    fn arguing_with_a_number_is_no_correction() {
        assert!(!is_correction("Six still isn't zero."));
        assert!(is_correction("We have 200 people not 50."));
    }

    #[test]
    fn the_last_sentence_that_answers_decides_acceptance() {
        assert!(is_acceptance("Let me check. Yes, that works. I'll book the small conference room."));
        assert!(is_acceptance("Let me see. I've got the thirteenth free in the morning. Yes."));
        assert!(!is_acceptance("Yes. Let me check my calendar and get back to you."));
        assert!(!is_acceptance("No. Thanks."));
        assert!(is_acceptance("Lovely. Right, I'd better go."));
    }

    #[test]
    fn acceptance_and_refusal() {
        assert!(is_acceptance("Yes, that works."));
        assert!(is_acceptance("Sounds good, talk then."));
        assert!(!is_acceptance("No, that doesn't work for me."));
        assert!(!is_acceptance("I can't, I'm busy then."));
        assert!(!is_acceptance("We use spreadsheets for reporting."));
        assert!(!is_acceptance("Thanks, but no."));
        assert!(is_acceptance("No problem, see you then."));
    }

    #[test]
    fn deferrals() {
        for yes in [
            "I'll check on that.",
            "Let me get back to you on that.",
            "I'm not sure, I'd have to ask.",
            "Good question, I'll find out and let you know.",
            "Ill have to check with our engineers",
        ] {
            assert!(is_deferral(yes), "{yes}");
        }
        for no in [
            "Let me check my calendar.",
            "Sure, we support SSO out of the box.",
            "I'm not sure I follow.",
            "Let me ask you about your team.",
        ] {
            assert!(!is_deferral(no), "{no}");
        }
    }

    #[test]
    fn corrections() {
        for yes in [
            "Actually, that's not right.",
            "No, we have 200 people, not 50.",
            "We're on HubSpot, not Salesforce.",
            "Actually it's two hundred seats.",
            "That's not quite how it works for us.",
            "we have two hundred people not fifty",
        ] {
            assert!(is_correction(yes), "{yes}");
        }
        for no in [
            "Actually, that sounds great.",
            "No, we don't need it.",
            "We could do it, not this quarter though.",
            "Right, that's correct.",
            "Not really, no.",
        ] {
            assert!(!is_correction(no), "{no}");
        }
    }

    #[test]
    fn negation_scope_stays_in_the_clause() {
        let s = &sentences("No, we're locked in with Gong")[0];
        let i = s.words.iter().position(|w| w == "locked").unwrap();
        assert!(!negated_before(&s.words, s.clause_of(i), i, 4));
        let s = &sentences("we are not locked in with Gong")[0];
        let i = s.words.iter().position(|w| w == "locked").unwrap();
        assert!(negated_before(&s.words, s.clause_of(i), i, 4));
    }
}
