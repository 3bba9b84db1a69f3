//! Talk time from the VAD utterances (segments' spans for a hand-made record), the
//! rep's longest run and busiest window, questions asked, and the talk_ratio
//! findings: rep share ≥ `talk_ratio_high` (65%): 1.0 + 20 × the share above it; a monologue
//! over `monologue_long_s` 1.0 (+0.5 over 90 s); the prospect's answers shrinking
//! to a word or two 1.5.

use crate::brief::{BriefConfig, BriefMetrics, Category, FlagMetric, Severity};
use crate::call::{Segment, Speaker, Utterance};
use crate::language::text::{self, Sentence};

use super::{clip, clock, Analysis, Finding, Turn};

/// Talk time, share, longest runs and the busiest window; the rules fill in the rest.
pub(super) fn metrics(
    utterances: &[Utterance],
    segments: &[Segment],
    duration_s: f64,
    config: &BriefConfig,
) -> BriefMetrics {
    // Talk time comes from the VAD; a record without utterances (hand-made) falls
    // back to the segments' spans.
    let spans: Vec<(Speaker, f64, f64)> = if utterances.is_empty() {
        segments
            .iter()
            .map(|s| (s.speaker, s.start_s, s.end_s))
            .collect()
    } else {
        utterances
            .iter()
            .map(|u| (u.speaker, u.start_s, u.end_s))
            .collect()
    };
    let talk = |who: Speaker| {
        spans
            .iter()
            .filter(|s| s.0 == who)
            .map(|s| (s.2 - s.1).max(0.0))
            .sum::<f64>()
    };
    let (rep, prospect) = (talk(Speaker::Rep), talk(Speaker::Prospect));
    let mut sorted = spans.clone();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
    BriefMetrics {
        duration_s,
        talk_s_rep: rep,
        talk_s_prospect: prospect,
        talk_ratio_rep: if rep + prospect > 0.0 {
            rep / (rep + prospect)
        } else {
            0.0
        },
        longest_rep_monologue_s: longest_run(&sorted, Speaker::Rep).0,
        longest_prospect_stretch_s: longest_run(&sorted, Speaker::Prospect).0,
        peak_window_talk_ratio_rep: peak_window(&sorted, config.spike_window_s).0,
        ..Default::default()
    }
}

/// A run continues over pauses up to this long (as the live coach counts it).
const RUN_MAX_PAUSE_S: f64 = 4.0;
/// The other side's speech up to this long (a backchannel) does not end a run.
const RUN_BACKCHANNEL_S: f64 = 1.5;

/// Longest run of one speaker: their speech with pauses of at most 4 s, where the
/// other side says nothing longer than a 1.5 s backchannel (the live coach's
/// definition). Returns (seconds, start).
fn longest_run(sorted: &[(Speaker, f64, f64)], who: Speaker) -> (f64, f64) {
    let mut best = (0.0, 0.0);
    let mut run: Option<(f64, f64)> = None;
    for &(s, start, end) in sorted {
        if s == who {
            run = Some(match run {
                Some((rs, re)) if start - re <= RUN_MAX_PAUSE_S => (rs, re.max(end)),
                _ => (start, end),
            });
        } else if end - start > RUN_BACKCHANNEL_S {
            run = None;
        }
        if let Some((rs, re)) = run {
            if re - rs > best.0 {
                best = (re - rs, rs);
            }
        }
    }
    best
}

/// Highest rep share of speech in any window of `window_s` that holds at least
/// half a window of speech: (share, window start).
fn peak_window(sorted: &[(Speaker, f64, f64)], window_s: f64) -> (f64, f64) {
    let mut best = (0.0, 0.0);
    let mut lo = 0usize;
    for i in 0..sorted.len() {
        let end = sorted[i].2;
        let start = end - window_s;
        while lo < i && sorted[lo].2 <= start {
            lo += 1;
        }
        let (mut rep, mut all) = (0.0, 0.0);
        for s in &sorted[lo..=i] {
            let d = (s.2.min(end) - s.1.max(start)).max(0.0);
            all += d;
            if s.0 == Speaker::Rep {
                rep += d;
            }
        }
        if all >= window_s * 0.5 && rep / all > best.0 {
            best = (rep / all, start.max(0.0));
        }
    }
    best
}

/// Questions each side asked.
pub(super) fn count_questions(a: &mut Analysis, sentences: &[Vec<Sentence>]) {
    for (t, ss) in a.turns.iter().zip(sentences) {
        let q = ss.iter().filter(|s| text::sentence_is_question(s)).count();
        match t.speaker {
            Speaker::Rep => a.metrics.rep_questions += q,
            Speaker::Prospect => a.metrics.prospect_questions += q,
        }
    }
}

/// The talk_ratio findings (see the module documentation).
pub(super) fn findings(a: &mut Analysis, utterances: &[Utterance], config: &BriefConfig) {
    let m = a.metrics.clone();
    let mut spans: Vec<(Speaker, f64, f64)> = utterances
        .iter()
        .map(|u| (u.speaker, u.start_s, u.end_s))
        .collect();
    if spans.is_empty() {
        spans = a
            .turns
            .iter()
            .map(|t| (t.speaker, t.start_s, t.end_s))
            .collect();
    }
    spans.sort_by(|x, y| x.1.total_cmp(&y.1));
    let rep_turn_at = |t: f64| {
        a.turns
            .iter()
            .filter(|x| x.speaker == Speaker::Rep)
            .min_by(|x, y| (x.start_s - t).abs().total_cmp(&(y.start_s - t).abs()))
            .map(|x| format!("rep: {}", clip(&x.text, 160)))
            .unwrap_or_default()
    };
    let (peak, peak_at) = peak_window(&spans, config.spike_window_s);
    if m.talk_ratio_rep >= config.talk_ratio_high {
        a.findings.push(Finding {
            t_s: peak_at,
            excerpt: rep_turn_at(peak_at),
            metric: FlagMetric::TalkRatioSpike,
            severity: if m.talk_ratio_rep >= 0.75 {
                Severity::High
            } else {
                Severity::Medium
            },
            category: Category::TalkRatio,
            // Alone, a cause from 78%; from 65% with a long monologue or a disengaging
            // prospect beside it. (Train: every call whose primary cause was talk ratio
            // had the rep at 80% or more, while 5 of the 9 good calls at 70–77% were
            // demos and cold calls where the rep rightly did most of the talking.)
            weight: 1.0 + 20.0 * (m.talk_ratio_rep - config.talk_ratio_alone).max(0.0),
            detail: format!(
                "the rep talked {:.0}% of the call ({:.0}% from {})",
                m.talk_ratio_rep * 100.0,
                peak * 100.0,
                clock(peak_at)
            ),
        });
    } else if peak >= config.spike_ratio {
        a.findings.push(Finding {
            t_s: peak_at,
            excerpt: rep_turn_at(peak_at),
            metric: FlagMetric::TalkRatioSpike,
            severity: Severity::Low,
            category: Category::TalkRatio,
            weight: 0.0,
            detail: format!(
                "the rep talked {:.0}% of the {} s from {}",
                peak * 100.0,
                config.spike_window_s as u64,
                clock(peak_at)
            ),
        });
    }
    let (mono, mono_at) = longest_run(&spans, Speaker::Rep);
    if mono >= config.monologue_long_s {
        a.findings.push(Finding {
            t_s: mono_at,
            excerpt: rep_turn_at(mono_at),
            metric: FlagMetric::Monologue,
            severity: if mono >= 90.0 {
                Severity::High
            } else {
                Severity::Medium
            },
            category: Category::TalkRatio,
            weight: 1.0 + if mono >= 90.0 { 0.5 } else { 0.0 },
            detail: format!("a {:.0} s rep monologue", mono),
        });
    } else if mono >= config.monologue_long_s / 2.0 && m.talk_ratio_rep >= config.talk_ratio_high {
        a.findings.push(Finding {
            t_s: mono_at,
            excerpt: rep_turn_at(mono_at),
            metric: FlagMetric::Monologue,
            severity: Severity::Medium,
            category: Category::TalkRatio,
            weight: 0.0,
            detail: format!("a {:.0} s rep monologue in a call the rep dominated", mono),
        });
    }
    // Engagement: the prospect's answers, first half of the call against the second.
    let half = m.duration_s / 2.0;
    let answers: Vec<&Turn> = a
        .turns
        .iter()
        .filter(|t| t.speaker == Speaker::Prospect)
        .collect();
    let avg = |xs: &[&Turn]| {
        if xs.is_empty() {
            0.0
        } else {
            xs.iter().map(|t| t.word_count() as f64).sum::<f64>() / xs.len() as f64
        }
    };
    let first: Vec<&Turn> = answers
        .iter()
        .copied()
        .filter(|t| t.start_s < half)
        .collect();
    let second: Vec<&Turn> = answers
        .iter()
        .copied()
        .filter(|t| t.start_s >= half)
        .collect();
    a.metrics.prospect_answer_words_first_half = avg(&first);
    a.metrics.prospect_answer_words_second_half = avg(&second);
    let short: Vec<&&Turn> = second
        .iter()
        .filter(|t| t.word_count() <= config.short_answer_words)
        .collect();
    let dropped = !first.is_empty()
        && second.len() >= 2
        && avg(&second) <= 0.5 * avg(&first)
        && short.len() >= 2
        && short.len() * 2 >= second.len();
    if dropped {
        a.flags.engagement_drop = true;
        let at = short[0];
        a.findings.push(Finding {
            t_s: at.start_s,
            excerpt: format!("prospect: {}", clip(&at.text, 80)),
            metric: FlagMetric::EngagementDrop,
            severity: Severity::Medium,
            category: Category::TalkRatio,
            weight: 1.5,
            detail: format!(
                "the prospect's answers shrank from {:.0} to {:.0} words on average; {} of {} were a word or two",
                avg(&first),
                avg(&second),
                short.len(),
                second.len()
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Speaker::{Prospect as P, Rep as R};

    #[test]
    fn monologue_and_peak_window_from_utterances() {
        // A 1 s backchannel does not end the run; a 2 s answer or a 5 s pause does.
        let s = vec![
            (R, 0.0, 50.0),
            (R, 50.5, 100.0),
            (P, 101.0, 102.0),
            (R, 103.0, 110.0),
            (P, 111.0, 113.0),
            (R, 114.0, 120.0),
        ];
        assert_eq!(longest_run(&s, Speaker::Rep), (110.0, 0.0));
        let s = vec![(R, 0.0, 10.0), (R, 15.0, 20.0)];
        assert_eq!(longest_run(&s, Speaker::Rep), (10.0, 0.0));
        let s = vec![
            (R, 0.0, 50.0),
            (R, 50.5, 100.0),
            (P, 101.0, 102.0),
            (R, 103.0, 110.0),
        ];
        let (peak, _) = peak_window(&s, 120.0);
        assert!(peak > 0.95, "{peak}");
    }
}

