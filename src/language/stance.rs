//! Objection detection in context: is this prospect sentence a stance against
//! moving forward, and of which type?
//!
//! Phrase lookup alone does not generalise: prospects rarely say the library's
//! words ("we're locked in until spring", "that's a lot" right after a quote,
//! "it's really Linda's call"). So each sentence is read as a set of cue classes
//! (`config/stance.toml`: money, excess, time, defer, role, approve, incumbent,
//! status quo, third party, …), their pairs, the rep turn it answers (a price just
//! quoted, a time just proposed, the topic of the rep's question), whether it is a
//! question, and which library phrases match (`objections`). A multinomial
//! logistic model over those features, trained on the train calls with
//! `callcoach train-judge` (weights in `config/stance_model.json`), gives the
//! probability of each type; above the model's threshold it is an objection.
//!
//! Pure and synchronous; the model is read once per process.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use super::objections::{ObjectionHit, ObjectionMatcher, ObjectionType};
use super::text::{self, Sentence};
use crate::call::Speaker;
use crate::prep::CallPrep;

/// Labels of the model: no objection, then the five types in `ObjectionType::ALL` order.
pub const LABELS: usize = 6;

const CUES_TOML: &str = include_str!("../../config/stance.toml");
const MODEL_JSON: &str = include_str!("../../config/stance_model.json");

static BUILTIN: OnceLock<Arc<StanceModel>> = OnceLock::new();

#[derive(Debug, Clone)]
enum Pattern {
    /// A run of whole words.
    Words(Vec<String>),
    /// One word starting with this.
    Prefix(String),
}

/// The cue classes, compiled.
#[derive(Debug)]
pub struct Cues {
    classes: Vec<(String, Vec<Pattern>)>,
    /// Prior weight of each feature per label, from the method.
    prior: HashMap<String, [f32; LABELS]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCues {
    classes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    prior: BTreeMap<String, BTreeMap<String, f32>>,
}

impl Cues {
    fn parse(toml_text: &str) -> Result<Cues, String> {
        let raw: RawCues = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        let classes = raw
            .classes
            .into_iter()
            .map(|(name, entries)| {
                let patterns = entries
                    .iter()
                    .filter_map(|e| {
                        let e = e.trim();
                        if let Some(prefix) = e.strip_suffix('*') {
                            Some(Pattern::Prefix(prefix.to_lowercase()))
                        } else {
                            let words = text::words(e);
                            (!words.is_empty()).then_some(Pattern::Words(words))
                        }
                    })
                    .collect();
                (name, patterns)
            })
            .collect();
        let mut prior = HashMap::new();
        for (feature, by_label) in raw.prior {
            let mut w = [0.0; LABELS];
            for (label, weight) in by_label {
                let k = match label.as_str() {
                    "none" => 0,
                    other => match ObjectionType::ALL.iter().position(|t| t.as_str() == other) {
                        Some(i) => i + 1,
                        None => return Err(format!("prior {feature}: unknown label '{other}'")),
                    },
                };
                w[k] = weight;
            }
            prior.insert(feature, w);
        }
        Ok(Cues { classes, prior })
    }

    /// The prior weights of the model (`[prior]` in config/stance.toml).
    pub fn prior(&self) -> &HashMap<String, [f32; LABELS]> {
        &self.prior
    }

    /// The built-in classes.
    pub fn builtin() -> &'static Cues {
        static CUES: OnceLock<Cues> = OnceLock::new();
        CUES.get_or_init(|| Cues::parse(CUES_TOML).expect("config/stance.toml is valid (tested)"))
    }

    /// Names of the classes present in `words`, in a fixed order.
    pub fn present(&self, words: &[String]) -> Vec<&str> {
        self.classes
            .iter()
            .filter(|(_, patterns)| {
                patterns.iter().any(|p| match p {
                    Pattern::Prefix(prefix) => words.iter().any(|w| w.starts_with(prefix.as_str())),
                    Pattern::Words(seq) => text::find_seq(words, &seq.join(" ")).is_some(),
                })
            })
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

/// What the rep said just before the prospect's line, as features.
#[derive(Debug, Clone, Default)]
pub struct TurnContext {
    /// The rep quoted a price (a number with a money word).
    pub quote: bool,
    /// The rep proposed a time or a next step.
    pub proposal: bool,
    /// The rep's turn ended on a question.
    pub question: bool,
    /// Cue classes of the rep's last question.
    pub question_classes: Vec<String>,
}

impl TurnContext {
    /// Reads the rep's turn (all their words since the prospect last spoke).
    pub fn from_rep_turn(rep_turn: &str) -> TurnContext {
        let cues = Cues::builtin();
        let sentences = text::sentences(rep_turn);
        let words: Vec<String> = sentences.iter().flat_map(|s| s.words.iter().cloned()).collect();
        let classes = cues.present(&words);
        let has_number = words.iter().any(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()));
        let last_question = sentences.iter().rev().take(2).find(|s| text::sentence_is_question(s));
        TurnContext {
            quote: has_number && classes.contains(&"money"),
            proposal: text::detect_next_step(rep_turn).is_some(),
            question: sentences.last().is_some_and(text::sentence_is_question),
            question_classes: last_question
                .map(|q| cues.present(&q.words).into_iter().map(str::to_string).collect())
                .unwrap_or_default(),
        }
    }
}

/// Features of one prospect sentence.
pub fn features(
    sentence: &Sentence,
    context: &TurnContext,
    library_types: &[ObjectionType],
    names_competitor: bool,
    ngrams: bool,
) -> Vec<String> {
    let cues = Cues::builtin();
    let words = &sentence.words;
    let classes = cues.present(words);
    let mut f: Vec<String> = Vec::with_capacity(64);
    f.push("bias_line".into());
    let n = words.len();
    f.push(
        match n {
            0..=3 => "len:short",
            4..=9 => "len:mid",
            _ => "len:long",
        }
        .into(),
    );
    let question = text::sentence_is_question(sentence);
    if question {
        f.push("question".into());
    }
    for c in &classes {
        f.push(format!("c:{c}"));
        if question {
            f.push(format!("q+{c}"));
        }
    }
    for (i, a) in classes.iter().enumerate() {
        for b in &classes[i + 1..] {
            f.push(format!("cc:{a}+{b}"));
        }
    }
    // Clause-level pairs: the strongest stance cues sit in one clause.
    for clause in sentence.clauses() {
        let cc = cues.present(clause);
        for (i, a) in cc.iter().enumerate() {
            for b in &cc[i + 1..] {
                f.push(format!("cl:{a}+{b}"));
            }
        }
    }
    if context.quote {
        f.push("ctx:quote".into());
        for c in &classes {
            f.push(format!("ctx:quote+{c}"));
        }
        if n <= 8 {
            f.push("ctx:quote+short".into());
        }
    }
    if context.proposal {
        f.push("ctx:proposal".into());
        for c in &classes {
            f.push(format!("ctx:proposal+{c}"));
        }
    }
    if context.question {
        f.push("ctx:question".into());
        for qc in &context.question_classes {
            f.push(format!("ctx:asked_{qc}"));
            for c in &classes {
                if c == qc {
                    f.push(format!("ctx:answers_{c}"));
                }
            }
        }
    }
    for t in library_types {
        f.push(format!("lib:{}", t.as_str()));
    }
    if names_competitor {
        f.push("prep_competitor".into());
    }
    if ngrams {
        let stems: Vec<String> = words.iter().map(|w| text::stem(w)).collect();
        for s in &stems {
            if !text::is_stopword(s) {
                f.push(format!("u:{s}"));
            }
        }
        for pair in stems.windows(2) {
            f.push(format!("b:{}_{}", pair[0], pair[1]));
        }
    }
    f.sort();
    f.dedup();
    f
}

/// The trained model: weights per feature and label.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StanceModel {
    /// How it was trained (command, sets, hyper-parameters), for reproducibility.
    pub trained: String,
    pub ngrams: bool,
    /// A type fires when its probability reaches this.
    pub threshold: f32,
    pub bias: [f32; LABELS],
    pub weights: BTreeMap<String, [f32; LABELS]>,
}

impl StanceModel {
    /// The model shipped in `config/stance_model.json`, or the one
    /// [`StanceModel::use_instead`] put in its place.
    pub fn builtin() -> Arc<StanceModel> {
        BUILTIN
            .get_or_init(|| Arc::new(serde_json::from_str(MODEL_JSON).expect("config/stance_model.json is valid (tested)")))
            .clone()
    }

    /// Makes `model` the process's model, before anything has judged a line: how
    /// `callcoach eval --stance-model` scores calls with a model trained without
    /// them (cross-validation of the whole brief). False when one is already in use.
    pub fn use_instead(model: StanceModel) -> bool {
        BUILTIN.set(Arc::new(model)).is_ok()
    }

    /// Probabilities of the labels (none, then each type).
    pub fn predict(&self, features: &[String]) -> [f32; LABELS] {
        let mut z = self.bias;
        for f in features {
            if let Some(w) = self.weights.get(f) {
                for k in 0..LABELS {
                    z[k] += w[k];
                }
            }
        }
        softmax(z)
    }
}

/// The model's probabilities, raised by the library: a library phrase of a type in
/// a statement is strong evidence the model may underweight on little data.
pub fn combine(mut p: [f32; LABELS], features: &[String]) -> [f32; LABELS] {
    if features.iter().any(|f| f == "question") {
        return p;
    }
    for (k, kind) in ObjectionType::ALL.iter().enumerate() {
        let lib = format!("lib:{}", kind.as_str());
        if features.iter().any(|f| *f == lib) {
            p[k + 1] = p[k + 1].max(LIBRARY_PROBABILITY);
        }
    }
    p
}

/// The probability a library phrase match stands for.
const LIBRARY_PROBABILITY: f32 = 0.9;

fn softmax(z: [f32; LABELS]) -> [f32; LABELS] {
    let max = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let mut p = [0.0; LABELS];
    let mut sum = 0.0;
    for k in 0..LABELS {
        p[k] = (z[k] - max).exp();
        sum += p[k];
    }
    for v in &mut p {
        *v /= sum;
    }
    p
}

/// One training sentence.
#[derive(Debug, Clone)]
pub struct Example {
    pub features: Vec<String>,
    /// 0 = no objection, 1.. = `ObjectionType::ALL[label - 1]`.
    pub label: usize,
    pub weight: f32,
}

/// Hyper-parameters of [`train`].
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    pub l2: f32,
    pub iterations: usize,
    pub learning_rate: f32,
    /// Weight of an objection sentence against a plain one (objections are rare).
    pub positive_weight: f32,
}

/// The options the shipped `config/stance_model.json` was trained with (`callcoach
/// train-judge` defaults; chosen by leave-one-author-out cross-validation on train).
impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { l2: 3e-4, iterations: 1000, learning_rate: 0.1, positive_weight: 10.0 }
    }
}

/// Full-batch gradient descent on the weighted, L2-regularised cross-entropy.
/// Deterministic: the same examples give the same model.
pub fn train(examples: &[Example], options: TrainOptions, ngrams: bool, threshold: f32, trained: String) -> StanceModel {
    let prior_of = Cues::builtin().prior();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for f in examples.iter().flat_map(|e| e.features.iter().map(String::as_str)).chain(prior_of.keys().map(String::as_str)) {
        let next = index.len();
        index.entry(f).or_insert(next);
    }
    let encoded: Vec<(Vec<usize>, usize, f32)> = examples
        .iter()
        .map(|e| {
            let w = if e.label == 0 { e.weight } else { e.weight * options.positive_weight };
            (e.features.iter().map(|f| index[f.as_str()]).collect(), e.label, w)
        })
        .collect();
    let total_weight: f32 = encoded.iter().map(|e| e.2).sum::<f32>().max(1e-6);
    // AdaGrad on the mean loss: sparse binary features get their own step sizes.
    let mut prior = vec![[0.0f32; LABELS]; index.len()];
    for (name, &i) in &index {
        if let Some(p) = prior_of.get(*name) {
            prior[i] = *p;
        }
    }
    let mut w = prior.clone();
    let mut bias = [0.0f32; LABELS];
    let mut g2 = vec![[1e-8f32; LABELS]; index.len()];
    let mut g2_bias = [1e-8f32; LABELS];
    for _ in 0..options.iterations {
        let mut grad = vec![[0.0f32; LABELS]; index.len()];
        let mut grad_bias = [0.0f32; LABELS];
        for (feats, label, weight) in &encoded {
            let mut z = bias;
            for &f in feats {
                for k in 0..LABELS {
                    z[k] += w[f][k];
                }
            }
            let p = softmax(z);
            for k in 0..LABELS {
                let g = (p[k] - if k == *label { 1.0 } else { 0.0 }) * weight / total_weight;
                grad_bias[k] += g;
                for &f in feats {
                    grad[f][k] += g;
                }
            }
        }
        for k in 0..LABELS {
            g2_bias[k] += grad_bias[k] * grad_bias[k];
            bias[k] -= options.learning_rate * grad_bias[k] / g2_bias[k].sqrt();
        }
        for (((wf, gf), sf), pf) in w.iter_mut().zip(&grad).zip(g2.iter_mut()).zip(&prior) {
            for k in 0..LABELS {
                let g = gf[k] + 2.0 * options.l2 * (wf[k] - pf[k]);
                sf[k] += g * g;
                wf[k] -= options.learning_rate * g / sf[k].sqrt();
            }
        }
    }
    let weights = index
        .into_iter()
        .map(|(name, i)| (name.to_string(), w[i].map(|x| (x * 1e4).round() / 1e4)))
        .filter(|(_, ws)| ws.iter().any(|x| *x != 0.0))
        .collect();
    StanceModel { trained, ngrams, threshold, bias: bias.map(|x| (x * 1e4).round() / 1e4), weights }
}

/// Finds objections in prospect lines: the library's phrases and the stance model.
#[derive(Debug, Clone)]
pub struct Detector {
    matcher: ObjectionMatcher,
    model: Arc<StanceModel>,
}

/// One sentence as the detector saw it (for training and explanations).
#[derive(Debug, Clone)]
pub struct ReadSentence {
    pub sentence: String,
    pub features: Vec<String>,
    pub probabilities: [f32; LABELS],
}

impl Detector {
    pub fn new(matcher: ObjectionMatcher, model: Arc<StanceModel>) -> Detector {
        Detector { matcher, model }
    }

    /// The library matcher (prepared responses, labels).
    pub fn matcher(&self) -> &ObjectionMatcher {
        &self.matcher
    }

    /// Each sentence of a prospect line with its features and the model's reading.
    pub fn read(&self, line: &str, rep_turn: &str, prep: &CallPrep) -> Vec<ReadSentence> {
        let context = TurnContext::from_rep_turn(rep_turn);
        self.read_with(line, &context, prep, self.model.ngrams)
    }

    fn read_with(&self, line: &str, context: &TurnContext, prep: &CallPrep, ngrams: bool) -> Vec<ReadSentence> {
        text::sentences(line)
            .into_iter()
            .map(|s| {
                let lib: Vec<ObjectionType> =
                    self.matcher.find(&s.original, Speaker::Prospect, &CallPrep::default()).iter().map(|h| h.kind).collect();
                let lower = s.original.to_lowercase();
                let names_competitor =
                    prep.competitors.iter().any(|c| !c.trim().is_empty() && lower.contains(&c.to_lowercase()));
                let features = features(&s, context, &lib, names_competitor, ngrams);
                let probabilities = self.model.predict(&features);
                ReadSentence { sentence: s.original.clone(), features, probabilities }
            })
            .collect()
    }

    /// Features of each sentence of a line, for training (no model needed).
    pub fn training_features(&self, line: &str, rep_turn: &str, prep: &CallPrep, ngrams: bool) -> Vec<(String, Vec<String>)> {
        let context = TurnContext::from_rep_turn(rep_turn);
        self.read_with(line, &context, prep, ngrams).into_iter().map(|r| (r.sentence, r.features)).collect()
    }

    /// The objection the prospect raised in `line`, answering `rep_turn`, if any (the
    /// most likely type). The rep's own words never raise one.
    pub fn find(&self, line: &str, speaker: Speaker, rep_turn: &str, prep: &CallPrep) -> Vec<ObjectionHit> {
        if speaker == Speaker::Rep {
            return Vec::new();
        }
        let mut best: Vec<Option<ObjectionHit>> = vec![None; ObjectionType::ALL.len()];
        for r in self.read(line, rep_turn, prep) {
            let probabilities = combine(r.probabilities, &r.features);
            let (k, p) = probabilities[1..]
                .iter()
                .enumerate()
                .fold((0, 0.0f32), |acc, (k, &p)| if p > acc.1 { (k, p) } else { acc });
            if p < self.model.threshold {
                continue;
            }
            let kind = ObjectionType::ALL[k];
            let slot = &mut best[k];
            if slot.as_ref().is_none_or(|b| p > b.score) {
                *slot = Some(ObjectionHit { kind, phrase: "stance".into(), score: p, sentence: r.sentence });
            }
        }
        let mut hits: Vec<ObjectionHit> = best.into_iter().flatten().collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.kind.cmp(&b.kind)));
        // One stance per line: a second type in the same line is nearly always the
        // same concern read two ways (cross-validation scores lines this way too).
        hits.truncate(1);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::objections::ObjectionLibrary;

    #[test]
    fn the_cues_and_the_model_parse() {
        assert!(Cues::builtin().classes.len() >= 10);
        let model = StanceModel::builtin();
        assert!(model.threshold > 0.0 && model.threshold < 1.0);
    }

    #[test]
    fn a_quote_in_the_rep_turn_is_context() {
        let c = TurnContext::from_rep_turn("For your team it comes to 400 dollars a month. Does that work?");
        assert!(c.quote && c.question);
        assert!(!TurnContext::from_rep_turn("How do you schedule today?").quote);
    }

    #[test]
    fn training_separates_two_obvious_classes() {
        let ex = |f: &[&str], label| Example { features: f.iter().map(|s| s.to_string()).collect(), label, weight: 1.0 };
        let examples = vec![ex(&["c:money", "c:excess"], 1), ex(&["c:time", "c:defer"], 2), ex(&["c:positive"], 0), ex(&["c:positive"], 0)];
        let model = train(&examples, TrainOptions::default(), false, 0.5, "test".into());
        let p = model.predict(&["c:money".into(), "c:excess".into()]);
        assert!(p[1] > p[0] && p[1] > p[2], "{p:?}");
        let d = Detector::new(ObjectionMatcher::new(Arc::new(ObjectionLibrary::builtin())), Arc::new(model));
        assert!(d.find("That is a lot of money, honestly.", Speaker::Rep, "", &CallPrep::default()).is_empty());
    }
}
