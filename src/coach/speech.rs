//! Talk time from voice-activity intervals: one merged interval list per speaker, and the
//! "runs" (monologues) built from them. Text is never needed here, so talk-ratio and
//! monologue figures are current as soon as the VAD reports speech.

/// One speaker's speech as sorted, disjoint `(start, end)` intervals.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpeechTrack {
    intervals: Vec<(f64, f64)>,
    total: f64,
}

impl SpeechTrack {
    /// Adds speech `[start, end]`. Partial extents of an open utterance, repeated or
    /// overlapping reports and out-of-order arrivals all merge into the same intervals,
    /// so talk time is never counted twice. Gaps up to `merge_gap` are bridged.
    pub fn add(&mut self, start: f64, end: f64, merge_gap: f64) {
        if !(start.is_finite() && end.is_finite()) || end <= start {
            return;
        }
        let lo = self
            .intervals
            .partition_point(|iv| iv.1 < start - merge_gap);
        let mut hi = lo;
        let (mut s, mut e) = (start, end);
        let mut removed = 0.0;
        while hi < self.intervals.len() && self.intervals[hi].0 <= end + merge_gap {
            let iv = self.intervals[hi];
            s = s.min(iv.0);
            e = e.max(iv.1);
            removed += iv.1 - iv.0;
            hi += 1;
        }
        self.intervals.splice(lo..hi, std::iter::once((s, e)));
        self.total += (e - s) - removed;
    }

    /// All speech so far (s).
    pub fn total(&self) -> f64 {
        self.total
    }

    /// Speech within `[a, b]` (s).
    pub fn in_range(&self, a: f64, b: f64) -> f64 {
        if b <= a {
            return 0.0;
        }
        let first = self.intervals.partition_point(|iv| iv.1 <= a);
        self.intervals[first..]
            .iter()
            .take_while(|iv| iv.0 < b)
            .map(|iv| iv.1.min(b) - iv.0.max(a))
            .filter(|d| *d > 0.0)
            .sum()
    }

    /// The first instant of speech after `t` (inside an interval that spans `t`, `t` itself).
    pub fn first_after(&self, t: f64) -> Option<f64> {
        let i = self.intervals.partition_point(|iv| iv.1 <= t);
        self.intervals.get(i).map(|iv| iv.0.max(t))
    }

    /// End of the latest speech.
    pub fn last_end(&self) -> Option<f64> {
        self.intervals.last().map(|iv| iv.1)
    }

    /// Whether a continuous stretch at least `min_len` long overlaps `[a, b]`.
    pub fn has_stretch_overlapping(&self, a: f64, b: f64, min_len: f64) -> bool {
        let first = self.intervals.partition_point(|iv| iv.1 < a);
        self.intervals[first..]
            .iter()
            .take_while(|iv| iv.0 <= b)
            .any(|iv| iv.1 - iv.0 >= min_len)
    }

    /// The run ending with this speaker's latest interval: consecutive intervals joined
    /// while the pause between them is at most `max_pause` and the other speaker has no
    /// stretch of `backchannel_max` or longer in it. Short backchannels ("mm-hm", "right")
    /// and talk-over inside continuous speech do not break a run.
    pub fn current_run(
        &self,
        other: &SpeechTrack,
        max_pause: f64,
        backchannel_max: f64,
    ) -> Option<(f64, f64)> {
        let k = self.intervals.len().checked_sub(1)?;
        let end = self.intervals[k].1;
        let mut i = k;
        while i > 0 {
            let prev_end = self.intervals[i - 1].1;
            let next_start = self.intervals[i].0;
            if next_start - prev_end > max_pause
                || other.has_stretch_overlapping(prev_end, next_start, backchannel_max)
            {
                break;
            }
            i -= 1;
        }
        Some((self.intervals[i].0, end))
    }
}

/// Run bookkeeping for one speaker: the run in progress, the longest, the finished ones.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunState {
    pub current: Option<(f64, f64)>,
    pub longest: f64,
    pub finished: Vec<(f64, f64)>,
}

impl RunState {
    /// Takes the latest run of this speaker; a run that starts after the previous one
    /// ended closes the previous one.
    pub fn update(&mut self, run: (f64, f64)) {
        if let Some(cur) = self.current {
            if run.0 > cur.1 {
                self.finished.push(cur);
            }
        }
        self.current = Some(run);
        self.longest = self.longest.max(run.1 - run.0);
    }

    /// Whether the current run is still going at `now`: no long pause since it ended and
    /// the other speaker has not taken the floor.
    pub fn active_at(
        &self,
        now: f64,
        other: &SpeechTrack,
        max_pause: f64,
        backchannel_max: f64,
    ) -> Option<(f64, f64)> {
        let (s, e) = self.current?;
        if now - e > max_pause
            || (now > e && other.has_stretch_overlapping(e, now, backchannel_max))
        {
            return None;
        }
        Some((s, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_extents_and_repeats_are_not_double_counted() {
        let mut t = SpeechTrack::default();
        // An open utterance reported as growing extents, then as its final extent.
        t.add(10.0, 10.2, 0.05);
        t.add(10.0, 10.4, 0.05);
        t.add(10.2, 10.6, 0.05);
        t.add(10.0, 10.6, 0.05);
        assert!((t.total() - 0.6).abs() < 1e-9);
        // Out of order, and a gap bridged.
        t.add(5.0, 6.0, 0.05);
        t.add(6.03, 7.0, 0.05);
        assert!((t.total() - 2.6).abs() < 1e-9);
        assert!((t.in_range(6.5, 10.3) - 0.8).abs() < 1e-9);
        assert_eq!(t.first_after(7.5), Some(10.0));
        assert_eq!(t.first_after(5.5), Some(5.5));
    }

    #[test]
    fn runs_survive_backchannels_but_not_real_turns() {
        let mut rep = SpeechTrack::default();
        let mut pro = SpeechTrack::default();
        rep.add(0.0, 20.0, 0.05);
        pro.add(20.2, 20.8, 0.05); // "mm-hm"
        rep.add(21.0, 40.0, 0.05);
        assert_eq!(rep.current_run(&pro, 4.0, 1.5), Some((0.0, 40.0)));
        pro.add(40.5, 43.0, 0.05); // a real answer
        rep.add(43.5, 50.0, 0.05);
        assert_eq!(rep.current_run(&pro, 4.0, 1.5), Some((43.5, 50.0)));
        rep.add(56.0, 60.0, 0.05); // a long pause
        assert_eq!(rep.current_run(&pro, 4.0, 1.5), Some((56.0, 60.0)));
    }
}
