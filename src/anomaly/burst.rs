//! `error_burst`: one principal's access-denied errors (`AccessDenied*`, `*UnauthorizedOperation`)
//! across many distinct APIs within a short event-time window — permission enumeration. Only
//! principals with a recent denial hold state; a burst is reported once per window.

use std::collections::HashMap;

/// Whether `code` is an access-denied error.
pub fn is_denied(code: &[u8]) -> bool {
    code.starts_with(b"AccessDenied") || code.ends_with(b"UnauthorizedOperation")
}

/// The burst settings.
#[derive(Debug, Clone, Copy)]
pub struct BurstSettings {
    /// Window, milliseconds.
    pub window_ms: i64,
    /// Denials in the window.
    pub errors: u32,
    /// Distinct APIs among them.
    pub apis: u32,
}

/// Recent denials of one principal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recent {
    /// (time, API fingerprint), oldest first, within the window.
    pub denials: Vec<(i64, u32)>,
    /// No report before this time (one per window).
    pub quiet_until_ms: i64,
}

/// A burst found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    /// Denials in the window.
    pub errors: usize,
    /// Distinct APIs among them.
    pub apis: usize,
    /// The window's first denial.
    pub since_ms: i64,
}

/// Every principal with recent denials.
#[derive(Debug, Default)]
pub struct Bursts {
    /// By principal fingerprint.
    pub recent: HashMap<u64, Recent>,
}

/// Most principals tracked at once; more (a flood of distinct denied principals) are not.
const MAX_PRINCIPALS: usize = 200_000;

impl Bursts {
    /// Records a denial of `api` by `principal` at `time_ms`; a burst when it completes one.
    pub fn observe(
        &mut self,
        principal: u64,
        api: u32,
        time_ms: i64,
        s: &BurstSettings,
    ) -> Option<Burst> {
        if self.recent.len() >= MAX_PRINCIPALS && !self.recent.contains_key(&principal) {
            return None;
        }
        let r = self.recent.entry(principal).or_default();
        let from = time_ms.saturating_sub(s.window_ms);
        r.denials.retain(|&(t, _)| t > from);
        // Enough to decide; a principal denied thousands of times keeps only the newest.
        let keep = (s.errors as usize).max(s.apis as usize) * 4;
        if r.denials.len() >= keep {
            r.denials.remove(0);
        }
        let at = r.denials.partition_point(|&(t, _)| t <= time_ms);
        r.denials.insert(at, (time_ms, api));
        if time_ms < r.quiet_until_ms || r.denials.len() < s.errors as usize {
            return None;
        }
        let mut apis: Vec<u32> = r.denials.iter().map(|&(_, a)| a).collect();
        apis.sort_unstable();
        apis.dedup();
        if apis.len() < s.apis as usize {
            return None;
        }
        r.quiet_until_ms = time_ms.saturating_add(s.window_ms);
        Some(Burst {
            errors: r.denials.len(),
            apis: apis.len(),
            since_ms: r.denials.first().map_or(time_ms, |d| d.0),
        })
    }

    /// Forgets principals whose last denial is older than the window before `time_ms`.
    pub fn expire(&mut self, time_ms: i64, s: &BurstSettings) {
        let from = time_ms.saturating_sub(s.window_ms);
        self.recent.retain(|_, r| {
            r.denials.last().is_some_and(|&(t, _)| t > from) || r.quiet_until_ms > time_ms
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: BurstSettings = BurstSettings {
        window_ms: 300_000,
        errors: 10,
        apis: 5,
    };

    #[test]
    fn many_apis_in_the_window_is_a_burst_once() {
        let mut b = Bursts::default();
        let mut found = Vec::new();
        for i in 0..40i64 {
            if let Some(x) = b.observe(1, (i % 8) as u32, i * 1000, &S) {
                found.push((i, x));
            }
        }
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 9);
        assert_eq!(found[0].1.apis, 8);
    }

    #[test]
    fn one_api_or_slow_denials_are_not() {
        let mut b = Bursts::default();
        for i in 0..100i64 {
            assert!(b.observe(1, 3, i * 1000, &S).is_none(), "one API");
        }
        for i in 0..100i64 {
            assert!(
                b.observe(2, i as u32, i * 60_000, &S).is_none(),
                "one every minute"
            );
        }
        b.expire(100 * 60_000 + 400_000, &S);
        assert!(b.recent.is_empty());
    }

    #[test]
    fn denied_codes() {
        assert!(is_denied(b"AccessDenied"));
        assert!(is_denied(b"AccessDeniedException"));
        assert!(is_denied(b"Client.UnauthorizedOperation"));
        assert!(!is_denied(b"ThrottlingException"));
        assert!(!is_denied(b"NoSuchBucket"));
    }
}
