//! Far-end echo on the mic channel: without headphones the rep's mic hears
//! the prospect through the speakers, and that must not count as rep speech.
//!
//! Thread: the segmenter thread, frame by frame, with both channels on the
//! same call clock. No allocation after `new`.
//!
//! [`EchoGate`] compares each mic frame's power with the far-end power a
//! moment earlier. Two things are learned as the call goes:
//! - the **lag** (0–256 ms) from far end to mic: the peak of the
//!   cross-correlation of the two channels' log-energy envelopes over the
//!   last few seconds in which the far end was talking;
//! - the **coupling** (echo power / far-end power): the running median of
//!   the mic/far power ratio while the far end talks; the ratio is the
//!   coupling when only echo is on the mic (most of the time) and larger
//!   when the rep talks too.
//!
//! A mic frame is echo when the far end was audible at that lag, or within
//! the room's reverb tail after it, and the mic holds no more than the
//! predicted echo plus a margin (6 dB): the rep's own voice over the echo
//! (double-talk) pushes the mic above that and still counts. The predicted
//! echo is the loudest far-end frame at the lag (±1 frame), or up to 400 ms
//! before it less the decay of a room with RT60 0.5 s: a word's echo
//! outlasts the far-end frame that caused it by the reverb, and checking
//! one lag only let the end of every far-end word through as the rep's
//! while the canceller was still converging (at −3 dB / 250 ms the
//! prospect's first sentence leaked 2 s into the rep's talk time).
//!
//! Until a lag is found (about 0.3 s of far-end speech) a lag-free check
//! with the assumed coupling gates, for the first 3 s of far-end speech
//! only: a headset call has no echo path, never yields a lag, and must not
//! have the rep's double-talk gated on a guess.
//!
//! Measured (tests below, `cargo test --release --lib segment::echo --
//! --nocapture`): espeak speech, far end leaking into the mic at −6 dB /
//! 40 ms (no reverb), rep 10.56 s of speech in a 34 s call with one stretch
//! of double-talk: without the gate the rep is credited 23.5 s; with it
//! 10.66 s (+0.9 %), no rep utterance during prospect-only speech, the
//! double-talk sentence found; lag estimated 48 ms (16 ms frames), coupling
//! −7.8 dB. At −10 dB / 120 ms: 10.62 s (+0.6 %), lag 112 ms. No echo path
//! (headset): nothing gated, rep talk within 3 %. With the canceller and
//! RT60 0.4 s reverb, the reverb tail took the worst talk-ratio error over
//! bleeds −3 to −30 dB and delays 0–250 ms from 6.3 to 2.2 pts (`cargo bench
//! --bench speakerphone`).
//!
//! [`CallSegmenter`] wires it up: both speakers' segmenters, fed per-speaker
//! chunks that it aligns frame by frame, with the echo canceller
//! ([`super::aec`]) and then the gate between them. The gate is the second
//! line: it sees the cancelled mic, so it gates what the canceller left
//! (while its filter converges, or past its 400 ms tail). The figures above
//! are the gate alone (canceller off).

use super::aec::{AecConfig, AecStatus, EchoCanceller};
use super::{Segmenter, SegmenterConfig, SegmenterEvent, FRAME_S, FRAME_SAMPLES};
use crate::call::Speaker;

/// Lags considered, in frames (0..=16 frames = 0–256 ms: speaker paths up
/// to 250 ms).
const MAX_LAG_FRAMES: usize = 16;
/// Longest room reverb the gate can follow past the lag (frames; 400 ms).
const MAX_REVERB_TAIL_FRAMES: usize = 25;
/// Envelope history used for the lag estimate (frames; about 4 s).
const HISTORY_FRAMES: usize = 256;
/// Re-estimate the lag every this many frames (128 ms).
const LAG_UPDATE_FRAMES: u64 = 8;
/// Far-end frames that must be active within the history before a lag is trusted.
const MIN_ACTIVE_FRAMES: usize = 20;
/// Until a lag is found, far-end activity (frames) during which a
/// conservative lag-free check still gates: long enough to cover the first
/// far-end words on a speaker setup, short enough that a headset call (no
/// echo path, so no lag ever) soon stops gating.
const PROBATION_FRAMES: u64 = 190;
/// Envelope correlation needed to accept a lag: only far-end-led stretches
/// reach it (0.9+ measured); double-talk and rep-only stretches stay below.
const MIN_LAG_CORRELATION: f64 = 0.8;
/// Median-tracking step for the coupling (dB per far-active frame; four
/// times that for the first 200 frames).
const COUPLING_STEP_DB: f32 = 0.05;

/// Echo-gate tuning.
#[derive(Debug, Clone, PartialEq)]
pub struct EchoGateConfig {
    /// Mic power may exceed the predicted echo by this much and still be echo.
    pub margin_db: f32,
    /// The far end counts as active when this far above its own noise floor.
    pub far_active_db: f32,
    /// Coupling assumed before any has been measured (dB; −6 dB is a laptop
    /// speaker into its own mic at a normal volume).
    pub initial_coupling_db: f32,
    /// Room reverb followed past the lag (ms, at most 400; 0 = the direct
    /// path only) and its assumed RT60 (s): a far-end frame this far before
    /// the lag still predicts echo, less the reverb's decay since.
    pub reverb_tail_ms: f32,
    pub reverb_rt60_s: f32,
}

impl Default for EchoGateConfig {
    fn default() -> Self {
        EchoGateConfig {
            margin_db: 6.0,
            far_active_db: 10.0,
            initial_coupling_db: -6.0,
            // 0.5 s: a little longer than an ordinary office's 0.4 s, so a
            // tail is over- rather than under-predicted (the rep's reply
            // over a decaying tail is still well above it).
            reverb_tail_ms: 400.0,
            reverb_rt60_s: 0.5,
        }
    }
}

/// Per-frame echo detector for the mic channel. See the module docs.
pub struct EchoGate {
    cfg: EchoGateConfig,
    /// Log-power (dB) rings, indexed by frame number modulo the length.
    mic_db: Vec<f32>,
    far_db: Vec<f32>,
    far_active: Vec<bool>,
    frames: u64,
    far_floor_db: Option<f32>,
    mic_floor_db: Option<f32>,
    lag: Option<usize>,
    lag_candidate: Option<usize>,
    coupling_db: f32,
    coupling_measured: bool,
    coupling_updates: u64,
    far_active_frames: u64,
    echo_frames: u64,
    reverb_tail_frames: usize,
    reverb_decay_db_per_frame: f32,
}

impl EchoGate {
    pub fn new(cfg: EchoGateConfig) -> Self {
        EchoGate {
            reverb_tail_frames: ((cfg.reverb_tail_ms.max(0.0) as f64 / 1000.0 / FRAME_S).round() as usize).min(MAX_REVERB_TAIL_FRAMES),
            reverb_decay_db_per_frame: 60.0 / cfg.reverb_rt60_s.max(0.05) * FRAME_S as f32,
            coupling_db: cfg.initial_coupling_db,
            cfg,
            mic_db: vec![-120.0; HISTORY_FRAMES],
            far_db: vec![-120.0; HISTORY_FRAMES],
            far_active: vec![false; HISTORY_FRAMES],
            frames: 0,
            far_floor_db: None,
            mic_floor_db: None,
            lag: None,
            lag_candidate: None,
            coupling_measured: false,
            coupling_updates: 0,
            far_active_frames: 0,
            echo_frames: 0,
        }
    }

    /// The estimated far-end→mic lag in seconds, once measured.
    pub fn lag_s(&self) -> Option<f64> {
        self.lag.map(|l| l as f64 * FRAME_S)
    }

    /// The estimated echo coupling in dB, once measured.
    pub fn coupling_db(&self) -> Option<f32> {
        self.coupling_measured.then_some(self.coupling_db)
    }

    pub fn echo_frames(&self) -> u64 {
        self.echo_frames
    }

    /// Takes the mic frame and the far-end frame of the same call time;
    /// returns true when the mic frame is (only) far-end echo.
    pub fn process(&mut self, mic: &[f32; FRAME_SAMPLES], far: &[f32; FRAME_SAMPLES]) -> bool {
        let mic_db = power_db(mic);
        let far_db = power_db(far);
        let far_floor = track_floor(&mut self.far_floor_db, far_db);
        let mic_floor = track_floor(&mut self.mic_floor_db, mic_db);
        let idx = (self.frames % HISTORY_FRAMES as u64) as usize;
        self.mic_db[idx] = mic_db;
        self.far_db[idx] = far_db;
        self.far_active[idx] = far_db > far_floor + self.cfg.far_active_db;
        self.frames += 1;
        if self.frames.is_multiple_of(LAG_UPDATE_FRAMES) {
            self.estimate_lag();
        }

        // Predicted echo: the loudest far-end frame around the lag (tolerates
        // a lag between frame boundaries and a slightly wrong estimate), or
        // the room's reverb of an earlier one: far-end frames up to the
        // reverb tail past the lag count, less the tail's decay. Without
        // the tail a word's echo outlives the far-end frame that caused it,
        // and each word's end would pass as the rep's.
        let (lo, hi) = match self.lag {
            Some(l) => (l.saturating_sub(1), (l + 1).min(MAX_LAG_FRAMES)),
            None => (0, MAX_LAG_FRAMES),
        };
        let mut far_at_lag = -120.0f32;
        let mut active_at_lag = false;
        for lag in lo..=hi + self.reverb_tail_frames {
            if lag as u64 >= self.frames {
                break;
            }
            let j = ((self.frames - 1 - lag as u64) % HISTORY_FRAMES as u64) as usize;
            let decay_db = lag.saturating_sub(hi) as f32 * self.reverb_decay_db_per_frame;
            let reverberated_db = self.far_db[j] - decay_db;
            if reverberated_db > far_at_lag {
                far_at_lag = reverberated_db;
            }
            active_at_lag |= self.far_active[j] && reverberated_db > far_floor + self.cfg.far_active_db;
        }
        if !active_at_lag {
            return false;
        }
        if self.lag.is_none() {
            // No echo path measured yet. For the first few seconds of
            // far-end speech, gate what the far end at any lag with the
            // assumed coupling explains within a tighter margin (the lag
            // takes ~0.3 s of far-end speech to find). After that, assume a
            // headset: guessing would gate the rep whenever both talk.
            self.far_active_frames += 1;
            if self.far_active_frames > PROBATION_FRAMES {
                return false;
            }
            let predicted_echo_db = far_at_lag + self.cfg.initial_coupling_db;
            let echo = predicted_echo_db > mic_floor + 3.0
                && mic_db <= predicted_echo_db + self.cfg.margin_db / 2.0;
            self.echo_frames += echo as u64;
            return echo;
        }
        let ratio_db = mic_db - far_at_lag;
        // Learn the coupling from frames where the far end talks: a running
        // median of the mic/far ratio. Most of those frames are echo only
        // (people rarely talk over each other for long), so the median is
        // the echo path's gain as this gate measures it.
        // Frames above the echo threshold are double-talk (or the rep
        // alone): they say nothing about the echo path and are left out.
        if self.lag.is_some() && ratio_db < self.coupling_db + self.cfg.margin_db {
            let step = if self.coupling_updates < 200 {
                4.0 * COUPLING_STEP_DB
            } else {
                COUPLING_STEP_DB
            };
            self.coupling_db += if ratio_db > self.coupling_db {
                step
            } else {
                -step
            };
            self.coupling_updates += 1;
            self.coupling_measured = true;
        }
        let predicted_echo_db = far_at_lag + self.coupling_db;

        // The echo must be audible on the mic for there to be anything to gate.
        let echo =
            predicted_echo_db > mic_floor + 3.0 && mic_db <= predicted_echo_db + self.cfg.margin_db;
        self.echo_frames += echo as u64;
        echo
    }

    /// Lag = argmax over 0..=MAX_LAG of the correlation between the mic
    /// envelope and the far envelope shifted by the lag, over recent frames
    /// where the far end was active.
    fn estimate_lag(&mut self) {
        let n = (self.frames as usize).min(HISTORY_FRAMES);
        if n <= MAX_LAG_FRAMES + 8 {
            return;
        }
        let newest = self.frames - 1;
        let at = |ring: &[f32], frame: u64| ring[(frame % HISTORY_FRAMES as u64) as usize];
        let active = (0..n as u64 - MAX_LAG_FRAMES as u64)
            .filter(|k| {
                self.far_active
                    [((newest - k - MAX_LAG_FRAMES as u64) % HISTORY_FRAMES as u64) as usize]
            })
            .count();
        if active < MIN_ACTIVE_FRAMES {
            return;
        }
        let mut best = (f64::MIN, None);
        for lag in 0..=MAX_LAG_FRAMES {
            // Pearson correlation of mic(t) with far(t - lag).
            let (mut sx, mut sy, mut sxx, mut syy, mut sxy, mut m) =
                (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
            for k in 0..(n - MAX_LAG_FRAMES) as u64 {
                let t = newest - k;
                let x = at(&self.mic_db, t) as f64;
                let y = at(&self.far_db, t - lag as u64) as f64;
                sx += x;
                sy += y;
                sxx += x * x;
                syy += y * y;
                sxy += x * y;
                m += 1.0;
            }
            let cov = sxy / m - (sx / m) * (sy / m);
            let var = (sxx / m - (sx / m).powi(2)) * (syy / m - (sy / m).powi(2));
            if var > 1e-9 {
                let r = cov / var.sqrt();
                if r > best.0 {
                    best = (r, Some(lag));
                }
            }
        }
        // Only trust a clear relationship (no echo path: leave it unset),
        // and change an established lag only when two estimates agree.
        if best.0 > MIN_LAG_CORRELATION {
            if self.lag.is_none() || best.1 == self.lag_candidate {
                self.lag = best.1;
            }
            self.lag_candidate = best.1;
        }
    }
}

pub(crate) fn power_db(frame: &[f32]) -> f32 {
    let p = frame.iter().map(|&s| (s as f64) * (s as f64)).sum::<f64>() / frame.len() as f64;
    (10.0 * (p + 1e-12).log10()) as f32
}

/// Noise floor: follows drops at once, rises 3 dB/s.
pub(crate) fn track_floor(floor: &mut Option<f32>, db: f32) -> f32 {
    let f = floor.get_or_insert(db);
    let before = *f;
    if db < *f {
        *f += 0.4 * (db - *f);
    } else {
        *f += (3.0 * FRAME_S as f32).min(db - *f);
    }
    before
}

/// Both speakers' segmenters with echo gating on the rep's (mic) channel.
/// Chunks arrive per speaker in any sizes; frames are processed once both
/// channels have them, so the gate always sees the same call time on both.
/// If one channel stops delivering (device lost) the other goes on alone
/// once it is a second ahead (the mic then ungated); when the stalled
/// channel's audio for that time arrives (sources fill gaps with silence) it
/// catches up alone, so both stay on the call clock.
pub struct CallSegmenter {
    rep: Segmenter,
    prospect: Segmenter,
    gate: EchoGate,
    /// Cancels the far end's echo from the mic before the gate, the VAD and
    /// Whisper see it (None when turned off: a headset, or testing without).
    aec: Option<EchoCanceller>,
    /// With a canceller whose output is a frame late: the far-end frame of
    /// the call time its next output belongs to, and whether it has output
    /// anything yet (its first output is the frame before the call began).
    delayed_far: [f32; FRAME_SAMPLES],
    aec_primed: bool,
    /// Samples waiting for their partner, per channel (rep, prospect).
    queued: [Vec<f32>; 2],
    /// Index of the next frame of each channel (rep, prospect): its call time.
    next_frame: [u64; 2],
    max_skew: usize,
    gate_enabled: bool,
}

impl CallSegmenter {
    /// `echo_gate`, `echo_cancel`: turn the gate or the canceller off when
    /// the rep uses headphones (no echo path) or when testing without them.
    pub fn new(cfg: SegmenterConfig, echo_gate: bool, echo_cancel: bool) -> Self {
        Self::with_echo_gate(cfg, echo_gate.then(EchoGateConfig::default), echo_cancel)
    }

    /// As [`CallSegmenter::new`], with the echo gate tuned (None: no gate).
    pub fn with_echo_gate(cfg: SegmenterConfig, echo_gate: Option<EchoGateConfig>, echo_cancel: bool) -> Self {
        let gate_enabled = echo_gate.is_some();
        let max_skew = (1.0 * 16_000.0) as usize;
        CallSegmenter {
            rep: Segmenter::new(Speaker::Rep, cfg.clone()),
            prospect: Segmenter::new(Speaker::Prospect, cfg),
            gate: EchoGate::new(echo_gate.unwrap_or_default()),
            aec: echo_cancel.then(|| EchoCanceller::new(&AecConfig::default())),
            delayed_far: [0.0; FRAME_SAMPLES],
            aec_primed: false,
            queued: [
                Vec::with_capacity(2 * max_skew),
                Vec::with_capacity(2 * max_skew),
            ],
            next_frame: [0; 2],
            max_skew,
            gate_enabled,
        }
    }

    pub fn segmenter(&self, speaker: Speaker) -> &Segmenter {
        match speaker {
            Speaker::Rep => &self.rep,
            Speaker::Prospect => &self.prospect,
        }
    }

    pub fn echo_gate(&self) -> &EchoGate {
        &self.gate
    }

    /// The echo canceller's ERLE and convergence (None when it is off).
    pub fn echo_cancel_status(&self) -> Option<AecStatus> {
        self.aec.as_ref().map(EchoCanceller::status)
    }

    /// Feeds one speaker's 16 kHz samples; appends events from both channels.
    pub fn push(&mut self, speaker: Speaker, samples: &[f32], out: &mut Vec<SegmenterEvent>) {
        self.queued[speaker.channel()].extend_from_slice(samples);
        self.drain(out, false);
    }

    /// Ends both channels (unpaired audio is processed against silence).
    pub fn finish(&mut self, out: &mut Vec<SegmenterEvent>) {
        self.drain(out, true);
        // A canceller that holds a frame back releases it on one of silence.
        if let Some(aec) = &mut self.aec {
            if aec.output_delay_frames() == 1 && self.aec_primed {
                let silence = [0.0f32; FRAME_SAMPLES];
                let mut last = [0.0f32; FRAME_SAMPLES];
                aec.process(&silence, &silence, &mut last);
                let echo = self.gate_enabled && self.gate.process(&last, &self.delayed_far);
                self.rep.push_frame(&last, echo, out);
            }
        }
        // Leftovers shorter than a frame go through the plain path.
        let rep_tail = std::mem::take(&mut self.queued[0]);
        let prospect_tail = std::mem::take(&mut self.queued[1]);
        self.rep.push(&rep_tail, out);
        self.prospect.push(&prospect_tail, out);
        self.rep.finish(out);
        self.prospect.finish(out);
    }

    fn drain(&mut self, out: &mut Vec<SegmenterEvent>, flush: bool) {
        const REP: usize = 0;
        const PROSPECT: usize = 1;
        let silence = [0.0f32; FRAME_SAMPLES];
        let mut used = [0usize; 2];
        loop {
            let has = |c: usize| self.queued[c].len() - used[c] >= FRAME_SAMPLES;
            let queued = |c: usize| self.queued[c].len() - used[c];
            let next = self.next_frame;
            // Which channels to process now: both when they are at the same
            // call time; a channel that is behind catches up alone; a channel
            // whose partner has stalled goes on alone once far enough ahead.
            let (rep, prospect) = if next[REP] == next[PROSPECT] && has(REP) && has(PROSPECT) {
                (true, true)
            } else if next[PROSPECT] < next[REP] && has(PROSPECT) {
                (false, true)
            } else if has(REP)
                && (next[REP] < next[PROSPECT]
                    || (!has(PROSPECT) && (flush || queued(REP) > self.max_skew)))
            {
                (true, false)
            } else if has(PROSPECT) && !has(REP) && (flush || queued(PROSPECT) > self.max_skew) {
                (false, true)
            } else {
                break;
            };
            let take = |c: usize, used: &mut [usize; 2]| -> [f32; FRAME_SAMPLES] {
                let mut frame = [0.0f32; FRAME_SAMPLES];
                frame.copy_from_slice(&self.queued[c][used[c]..used[c] + FRAME_SAMPLES]);
                used[c] += FRAME_SAMPLES;
                frame
            };
            let far = if prospect {
                take(PROSPECT, &mut used)
            } else {
                silence
            };
            if prospect {
                self.prospect.push_frame(&far, false, out);
                self.next_frame[PROSPECT] += 1;
            }
            if rep {
                let raw = take(REP, &mut used);
                // The canceller and the gate run once per mic frame, so their
                // clock is the mic's; without the far end's frame of the same
                // time they see silence (and so cancel and gate nothing).
                let far_now = if prospect { far } else { silence };
                let frame = match &mut self.aec {
                    None => Some((raw, far_now)),
                    Some(aec) => {
                        let mut cancelled = [0.0f32; FRAME_SAMPLES];
                        aec.process(&raw, &far_now, &mut cancelled);
                        if aec.output_delay_frames() == 1 {
                            // `cancelled` is the previous frame's: pair it
                            // with that frame's far end, at that frame's time.
                            let far_then = std::mem::replace(&mut self.delayed_far, far_now);
                            std::mem::replace(&mut self.aec_primed, true).then_some((cancelled, far_then))
                        } else {
                            Some((cancelled, far_now))
                        }
                    }
                };
                if let Some((mic, far_of_mic)) = frame {
                    let echo = self.gate_enabled && self.gate.process(&mic, &far_of_mic);
                    self.rep.push_frame(&mic, echo, out);
                }
                self.next_frame[REP] += 1;
            }
        }
        for (queue, used) in self.queued.iter_mut().zip(used) {
            queue.drain(..used);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::call::Utterance;

    struct Track {
        samples: Vec<f32>,
        truth: Vec<(f64, f64)>,
    }

    /// Places trimmed clips at given start times (s) on a track of `len_s`,
    /// scaled to `level_db` active level.
    fn track(clips: &[(&str, &str, f64)], len_s: f64, level_db: f32) -> Track {
        let mut samples = vec![0.0f32; (len_s * RATE as f64) as usize];
        let mut truth = Vec::new();
        for (text, voice, at) in clips {
            let clip = espeak(text, voice);
            let clip = trim(&clip);
            let gain = 10f32.powf((level_db - active_level_db(clip)) / 20.0);
            let start = (at * RATE as f64) as usize;
            for (i, s) in clip.iter().enumerate() {
                samples[start + i] += s * gain;
            }
            truth.push((*at, at + clip.len() as f64 / RATE as f64));
        }
        Track { samples, truth }
    }

    fn finals(events: &[SegmenterEvent], speaker: Speaker) -> Vec<Utterance> {
        events
            .iter()
            .filter_map(|e| match e {
                SegmenterEvent::Final { utterance, .. } if utterance.speaker == speaker => {
                    Some(utterance.clone())
                }
                _ => None,
            })
            .collect()
    }

    fn overlap(a: (f64, f64), b: (f64, f64)) -> f64 {
        (a.1.min(b.1) - a.0.max(b.0)).max(0.0)
    }

    /// The call: the prospect talks alone, the rep answers, then they talk
    /// over each other; the far end leaks into the mic at −6 dB, 40 ms late.
    fn run_call(
        gate: bool,
        cancel: bool,
        delay_ms: f64,
        coupling_db: f32,
    ) -> (Vec<Utterance>, Track, Track, f64, Option<f64>, Option<f32>) {
        let prospect = track(
            &[
                ("Well, that would be huge, but the price has to make sense for us.", "en-us+f3", 1.0),
                ("My boss signs off on anything over ten thousand, so I would need her on the next call.", "en-us+f3", 9.0),
                ("Let me check her calendar and get back to you by Friday.", "en-us+f3", 19.0),
                ("We also looked at two other vendors last spring and none of them stuck.", "en-us+f3", 26.5),
            ],
            34.0,
            -26.0,
        );
        let rep = track(
            &[
                (
                    "Understood. Can I ask who else would be involved in the decision?",
                    "en-us",
                    6.0,
                ),
                (
                    "Great. Could we set up a thirty minute call with her next Tuesday?",
                    "en-us",
                    15.0,
                ),
                // Double-talk: the rep starts while the prospect is still talking.
                (
                    "Sure, and what made those tools fail for your team?",
                    "en-us",
                    28.0,
                ),
            ],
            34.0,
            -26.0,
        );
        let delay = (delay_ms / 1000.0 * RATE as f64) as usize;
        let g = 10f32.powf(coupling_db / 20.0);
        let room = noise(Noise::Pink, rep.samples.len(), -60.0, 11);
        let mic: Vec<f32> = (0..rep.samples.len())
            .map(|i| {
                rep.samples[i]
                    + if i >= delay {
                        g * prospect.samples[i - delay]
                    } else {
                        0.0
                    }
                    + room[i]
            })
            .collect();
        let far: Vec<f32> = prospect
            .samples
            .iter()
            .zip(noise(Noise::Pink, prospect.samples.len(), -65.0, 12))
            .map(|(a, b)| a + b)
            .collect();
        let mut seg = CallSegmenter::new(SegmenterConfig::default(), gate, cancel);
        let mut events = Vec::new();
        let mut rng = Lcg(5);
        let (mut pm, mut pf) = (0, 0);
        // Two devices on one clock deliver in their own chunk sizes, up to
        // 100 ms apart.
        while pm < mic.len() || pf < far.len() {
            let n = (160 + rng.next_below(800) as usize).min(mic.len() - pm);
            seg.push(Speaker::Rep, &mic[pm..pm + n], &mut events);
            pm += n;
            let behind = rng.next_below(1600) as usize;
            while pf + behind < pm && pf < far.len() {
                let n = (160 + rng.next_below(800) as usize).min(far.len() - pf);
                seg.push(Speaker::Prospect, &far[pf..pf + n], &mut events);
                pf += n;
            }
            if pm == mic.len() {
                seg.push(Speaker::Prospect, &far[pf..], &mut events);
                pf = far.len();
            }
        }
        seg.finish(&mut events);
        let talk = seg.segmenter(Speaker::Rep).talk_time_s();
        let lag = seg.echo_gate().lag_s();
        let coupling = seg.echo_gate().coupling_db();
        (
            finals(&events, Speaker::Rep),
            rep,
            prospect,
            talk,
            lag,
            coupling,
        )
    }

    #[test]
    fn far_end_echo_does_not_count_as_rep_speech_but_double_talk_does() {
        for (delay_ms, coupling_db) in [(40.0, -6.0), (120.0, -10.0)] {
            let label = format!("{delay_ms} ms / {coupling_db} dB");
            let (ungated, rep, prospect, ungated_talk, _, _) =
                run_call(false, false, delay_ms, coupling_db);
            let truth_talk: f64 = rep.truth.iter().map(|(s, e)| e - s).sum();
            // Without the gate the echo is rep speech: the test scene is a real problem.
            assert!(
                ungated_talk > truth_talk * 1.5,
                "{label}: ungated rep talk {ungated_talk:.2} s vs truth {truth_talk:.2} s"
            );
            assert!(ungated.len() > rep.truth.len());

            let (utts, rep, _, talk, lag, coupling) = run_call(true, false, delay_ms, coupling_db);
            let _ = &prospect;
            eprintln!("{label}: ungated rep talk {ungated_talk:.2} s, gated {talk:.2} s, truth {truth_talk:.2} s; lag {lag:?}, coupling {coupling:?}");
            for u in &utts {
                eprintln!("  rep utterance {:.2}..{:.2}", u.start_s, u.end_s);
            }
            let lag = lag.expect("lag estimated");
            let coupling = coupling.expect("coupling measured");
            assert!(
                (coupling - coupling_db).abs() <= 4.0,
                "{label}: coupling {coupling} dB"
            );
            assert!(
                (lag - delay_ms / 1000.0).abs() <= 0.02,
                "{label}: lag {lag}"
            );
            // No rep utterance while only the prospect talks.
            for u in &utts {
                let on_rep: f64 = rep
                    .truth
                    .iter()
                    .map(|&t| overlap((u.start_s, u.end_s), t))
                    .sum();
                assert!(
                    on_rep > 0.5 * u.duration_s(),
                    "{label}: rep utterance {:.2}..{:.2} is echo",
                    u.start_s,
                    u.end_s
                );
            }
            // Each rep sentence, including the double-talk one, is found.
            for &t in &rep.truth {
                let covered: f64 = utts.iter().map(|u| overlap((u.start_s, u.end_s), t)).sum();
                assert!(
                    covered > 0.8 * (t.1 - t.0),
                    "{label}: rep speech {t:?} covered {covered:.2} s"
                );
            }
            assert!(
                (talk - truth_talk).abs() / truth_talk < 0.1,
                "{label}: gated rep talk {talk:.2} s vs truth {truth_talk:.2} s"
            );
        }
    }

    #[test]
    fn without_an_echo_path_nothing_is_gated() {
        // Headphones: the far end never reaches the mic. The rep talking over
        // the prospect must count in full.
        let (utts, rep, _, talk, lag, _) = run_call(true, true, 40.0, -120.0);
        let truth_talk: f64 = rep.truth.iter().map(|(s, e)| e - s).sum();
        assert_eq!(lag, None, "no echo path, no lag");
        assert_eq!(utts.len(), rep.truth.len());
        assert!(
            (talk - truth_talk).abs() / truth_talk < 0.03,
            "rep talk {talk:.2} s vs truth {truth_talk:.2} s"
        );
    }

    #[test]
    fn a_stalled_channel_neither_blocks_nor_shifts_the_other() {
        let rep = track(
            &[(
                "Understood. Can I ask who else would be involved in the decision?",
                "en-us",
                1.0,
            )],
            12.0,
            -26.0,
        );
        let prospect = track(
            &[(
                "My boss signs off on anything over ten thousand.",
                "en-us+f3",
                7.0,
            )],
            12.0,
            -26.0,
        );
        let mut seg = CallSegmenter::new(SegmenterConfig::default(), true, true);
        let mut events = Vec::new();
        // The far end delivers its first 2 s, then stalls while the mic goes
        // on to 7 s; then the source fills the gap (silence) and resumes.
        seg.push(Speaker::Prospect, &prospect.samples[..32_000], &mut events);
        for chunk in rep.samples[..112_000].chunks(320) {
            seg.push(Speaker::Rep, chunk, &mut events);
        }
        let rep_done = finals(&events, Speaker::Rep);
        assert_eq!(
            rep_done.len(),
            1,
            "the rep's utterance finished while the far end was stalled"
        );
        for chunk in prospect.samples[32_000..].chunks(320) {
            seg.push(Speaker::Prospect, chunk, &mut events);
        }
        seg.push(Speaker::Rep, &rep.samples[112_000..], &mut events);
        seg.finish(&mut events);
        for (speaker, track) in [(Speaker::Rep, &rep), (Speaker::Prospect, &prospect)] {
            let got = finals(&events, speaker);
            assert_eq!(got.len(), 1, "{speaker}: {got:?}");
            let (ts, te) = track.truth[0];
            assert!(
                (got[0].start_s - ts).abs() < 0.15 && (got[0].end_s - te).abs() < 0.15,
                "{speaker}: {got:?} vs {ts}..{te}"
            );
            assert!((seg.segmenter(speaker).time_s() - 12.0).abs() < 1e-9);
        }
    }
}
