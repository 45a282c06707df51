//! `api_call_rate` and `api_error_rate`: per account and `eventSource:eventName`, the calls (and
//! errors) of each event-time minute against an exponentially weighted baseline of earlier
//! minutes (a plain mean until the horizon is reached), as CloudTrail Insights does. An anomaly starts when a minute's count reaches
//! `factor ×` the baseline (and at least the configured minimum), during that minute, and ends
//! with the first closed minute back under half that threshold; anomalous minutes do not move
//! the baseline. An event older than its key's open minute is not counted.

use std::collections::HashMap;

/// Which quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Calls.
    Calls = 0,
    /// Calls that returned an error.
    Errors = 1,
}

impl Quantity {
    /// CloudTrail's `insightType`.
    pub fn insight_type(self) -> &'static str {
        match self {
            Quantity::Calls => "ApiCallRateInsight",
            Quantity::Errors => "ApiErrorRateInsight",
        }
    }
}

/// The rate settings.
#[derive(Debug, Clone, Copy)]
pub struct RateSettings {
    /// Start factor.
    pub factor: f64,
    /// Fewest events in a minute that start an anomaly.
    pub min_per_minute: u32,
    /// Baseline horizon, minutes (the EWMA's 1/α).
    pub baseline_minutes: u32,
    /// Minutes of history before a key is judged.
    pub warmup_minutes: u32,
}

/// One quantity's state for a key.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Series {
    /// This minute's count.
    pub count: u32,
    /// Baseline, events per minute.
    pub baseline: f64,
    /// When an anomaly is running: its first minute, and the sum of its minutes' counts.
    pub active: Option<(i64, u64)>,
}

/// A key's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateState {
    /// The open minute (minutes since the epoch).
    pub minute: i64,
    /// First minute seen.
    pub first_minute: i64,
    /// Calls, errors.
    pub series: [Series; 2],
}

/// A rate anomaly's start or end.
#[derive(Debug, Clone, PartialEq)]
pub struct RateEvent {
    /// Key fingerprint.
    pub key: u64,
    /// Calls or errors.
    pub quantity: Quantity,
    /// Start (true) or end.
    pub start: bool,
    /// Events in the anomaly's minutes so far, per minute.
    pub rate: f64,
    /// The baseline, per minute.
    pub baseline: f64,
    /// The anomaly's first minute.
    pub since_minute: i64,
    /// Minutes it lasted (ends) or 1 (starts).
    pub minutes: i64,
    /// Minutes of history behind the baseline.
    pub baseline_minutes: i64,
}

/// Every key's state.
#[derive(Debug, Default)]
pub struct Rates {
    /// By key fingerprint.
    pub keys: HashMap<u64, RateState>,
    /// Keys with a running anomaly (closed by time passing even if they see no more calls).
    pub active: Vec<u64>,
    /// Keys not tracked because the table was full.
    pub dropped: u64,
    /// Events older than their key's open minute (delivered late), not counted: adding them
    /// to the open minute would make a spike of a backlog.
    pub late: u64,
}

/// Most keys tracked (accounts × APIs): ~50 bytes each.
pub const MAX_KEYS: usize = 500_000;

impl RateState {
    fn new(minute: i64) -> RateState {
        RateState {
            minute,
            first_minute: minute,
            series: [Series::default(); 2],
        }
    }
}

fn threshold(s: &RateSettings, baseline: f64) -> f64 {
    (s.factor * baseline).max(f64::from(s.min_per_minute))
}

/// The baseline after one closed minute of `count`, with `n` minutes behind it: a plain mean
/// until the horizon is reached (an average from zero would read low for a week), an
/// exponentially weighted one after.
fn update(baseline: f64, count: f64, n: i64, horizon: i64) -> f64 {
    let weight = (n + 1).min(horizon).max(1) as f64;
    baseline + (count - baseline) / weight
}

/// The baseline after `k` minutes without any call, `n` minutes behind it.
fn decay(baseline: f64, n: i64, k: i64, horizon: i64) -> f64 {
    if k <= 0 {
        return baseline;
    }
    let mean_part = (horizon - n).clamp(0, k);
    let mut b = baseline;
    if mean_part > 0 {
        b *= n.max(1) as f64 / (n.max(1) + mean_part) as f64;
    }
    let rest = (k - mean_part).min(1 << 24) as i32;
    b * (1.0 - 1.0 / horizon as f64).powi(rest)
}

/// Closes minutes of `st` until `minute` is the open one, reporting ends.
fn advance(key: u64, st: &mut RateState, minute: i64, s: &RateSettings, out: &mut Vec<RateEvent>) {
    if minute <= st.minute {
        return;
    }
    let horizon = i64::from(s.baseline_minutes.max(1));
    let history = st.minute - st.first_minute;
    for (q, series) in st.series.iter_mut().enumerate() {
        let quantity = if q == 0 {
            Quantity::Calls
        } else {
            Quantity::Errors
        };
        let closed = f64::from(series.count);
        match series.active {
            Some((since, total)) => {
                let below = closed < threshold(s, series.baseline) / 2.0;
                if below || minute > st.minute + 1 {
                    // A closed minute back to normal is not part of the anomaly.
                    let (last, sum) = if below {
                        (st.minute - 1, total.saturating_sub(u64::from(series.count)))
                    } else {
                        (st.minute, total)
                    };
                    let minutes = (last - since + 1).max(1);
                    out.push(RateEvent {
                        key,
                        quantity,
                        start: false,
                        rate: sum as f64 / minutes as f64,
                        baseline: series.baseline,
                        since_minute: since,
                        minutes,
                        baseline_minutes: history,
                    });
                    series.active = None;
                    if below {
                        series.baseline = update(series.baseline, closed, history, horizon);
                    }
                }
            }
            None => series.baseline = update(series.baseline, closed, history, horizon),
        }
        // Minutes without any call are zeros in the baseline.
        let gap = minute - st.minute - 1;
        series.baseline = decay(series.baseline, history + 1, gap, horizon);
        series.count = 0;
    }
    st.minute = minute;
}

impl Rates {
    /// Counts one event (`error` whether it failed) of `key` in `minute`; reports starts and
    /// any end that time passing caused. `now_minute` is the newest minute seen in the stream.
    pub fn observe(
        &mut self,
        key: u64,
        minute: i64,
        error: bool,
        s: &RateSettings,
        out: &mut Vec<RateEvent>,
    ) {
        let full = self.keys.len() >= MAX_KEYS;
        let st = match self.keys.get_mut(&key) {
            Some(st) => st,
            None if full => {
                self.dropped += 1;
                return;
            }
            None => self
                .keys
                .entry(key)
                .or_insert_with(|| RateState::new(minute)),
        };
        if minute < st.minute {
            self.late += 1;
            return;
        }
        advance(key, st, minute, s, out);
        let warm = st.minute - st.first_minute >= i64::from(s.warmup_minutes);
        let history = st.minute - st.first_minute;
        let mut became_active = false;
        for (q, counted) in [(Quantity::Calls, true), (Quantity::Errors, error)] {
            if !counted {
                continue;
            }
            let series = &mut st.series[q as usize];
            series.count = series.count.saturating_add(1);
            match &mut series.active {
                Some((_, total)) => *total += 1,
                None if warm && f64::from(series.count) >= threshold(s, series.baseline) => {
                    series.active = Some((st.minute, u64::from(series.count)));
                    became_active = true;
                    out.push(RateEvent {
                        key,
                        quantity: q,
                        start: true,
                        rate: f64::from(series.count),
                        baseline: series.baseline,
                        since_minute: st.minute,
                        minutes: 1,
                        baseline_minutes: history,
                    });
                }
                None => {}
            }
        }
        if became_active && !self.active.contains(&key) {
            self.active.push(key);
        }
    }

    /// Lets time pass for keys with a running anomaly: one that saw no call since closes its
    /// minutes up to `minute` (and ends).
    pub fn sweep(&mut self, minute: i64, s: &RateSettings, out: &mut Vec<RateEvent>) {
        let keys = &mut self.keys;
        self.active.retain(|key| {
            let Some(st) = keys.get_mut(key) else {
                return false;
            };
            if st.minute < minute - 1 {
                advance(*key, st, minute, s, out);
            }
            st.series.iter().any(|x| x.active.is_some())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: RateSettings = RateSettings {
        factor: 10.0,
        min_per_minute: 30,
        baseline_minutes: 60,
        warmup_minutes: 120,
    };

    fn run(r: &mut Rates, minute: i64, calls: u32, errors: u32) -> Vec<RateEvent> {
        let mut out = Vec::new();
        for i in 0..calls {
            r.observe(7, minute, i < errors, &S, &mut out);
        }
        r.sweep(minute, &S, &mut out);
        out
    }

    #[test]
    fn a_spike_starts_and_ends() {
        let mut r = Rates::default();
        for m in 0..300 {
            assert!(run(&mut r, m, 5, 0).is_empty(), "minute {m}");
        }
        let start = run(&mut r, 300, 120, 0);
        assert_eq!(start.len(), 1);
        assert!(start[0].start && start[0].quantity == Quantity::Calls);
        assert_eq!(start[0].rate, 50.0, "starts at the crossing, mid-minute");
        assert!((start[0].baseline - 5.0).abs() < 0.1);
        assert!(run(&mut r, 301, 100, 0).is_empty(), "still running");
        assert!(
            run(&mut r, 302, 5, 0).is_empty(),
            "the minute is still open"
        );
        let end = run(&mut r, 303, 5, 0);
        assert_eq!(end.len(), 1);
        assert!(!end[0].start);
        assert_eq!(end[0].minutes, 2);
        assert_eq!(end[0].rate, 110.0);
        // The spike did not raise the baseline.
        assert!((r.keys[&7].series[0].baseline - 5.0).abs() < 0.1);
    }

    #[test]
    fn nothing_during_warmup_or_below_the_minimum() {
        let mut r = Rates::default();
        assert!(run(&mut r, 0, 1, 0).is_empty());
        assert!(run(&mut r, 10, 500, 0).is_empty(), "warming up");
        let mut r = Rates::default();
        for m in 0..200 {
            run(&mut r, m, 1, 0);
        }
        assert!(
            run(&mut r, 200, 29, 0).is_empty(),
            "under the minimum of 30"
        );
        assert_eq!(run(&mut r, 201, 30, 0).len(), 1);
    }

    #[test]
    fn errors_are_their_own_series_and_silence_ends_an_anomaly() {
        let mut r = Rates::default();
        for m in 0..200 {
            run(&mut r, m, 20, 1);
        }
        let out = run(&mut r, 200, 60, 60);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].quantity, Quantity::Errors);
        // No more calls of this key at all; the stream's time moves on.
        let mut out = Vec::new();
        r.sweep(205, &S, &mut out);
        assert_eq!(out.len(), 1);
        assert!(!out[0].start && out[0].quantity == Quantity::Errors);
        assert!(r.active.is_empty());
    }
}
