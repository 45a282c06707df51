//! The detectors over one stream of observations, in order: the first-seen detectors on the
//! principals' table (quiet while a principal is learning), the rate detectors per account and
//! API, and the error burst per principal. Everything depends only on the observations and
//! their order — event time drives every window — so a backfill gives what the live stream did,
//! and any batch split gives the same anomalies.

use std::collections::HashMap;
use std::net::IpAddr;

use super::burst::{BurstSettings, Bursts, is_denied};
use super::fields::{
    Identity, Observation, Observations, fingerprint, format_time, is_global_service,
    user_agent_family,
};
use super::principals::{Principals, Seen, Touch, ValueKind};
use super::rate::{RateEvent, RateSettings, Rates};
use super::record::{Detail, Found, RateLabels, RateRecord, principal_record};
use super::settings::{AnomalySettings, DetectorKind, mask};

/// Fingerprint seeds, one per use (state files hold the results: never change them).
mod seed {
    pub const PRINCIPAL: u64 = 0x7072_696e_6369_7061;
    pub const VALUE: u64 = 0x7661_6c75_6573_2121;
    pub const RATE: u64 = 0x7261_7465_6b65_7973;
}

/// The detector state and settings.
#[derive(Debug)]
pub struct Detector {
    pub(super) settings: AnomalySettings,
    pub(super) principals: Principals,
    pub(super) rates: Rates,
    pub(super) bursts: Bursts,
    /// Names of rate keys with a running anomaly (to write its end).
    pub(super) rate_labels: HashMap<u64, RateLabels>,
    /// Newest event minute seen.
    pub(super) newest_minute: i64,
    rate_events: Vec<RateEvent>,
    scratch: Vec<u8>,
}

impl Detector {
    /// A detector with no history.
    pub fn new(settings: AnomalySettings) -> Detector {
        Detector {
            principals: Principals::new(settings.max_memory),
            settings,
            rates: Rates::default(),
            bursts: Bursts::default(),
            rate_labels: HashMap::new(),
            newest_minute: i64::MIN,
            rate_events: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Principals held, bytes of their state, principals evicted so far.
    pub fn principal_stats(&self) -> (usize, usize, u64) {
        (
            self.principals.len(),
            self.principals.used_bytes(),
            self.principals.evicted,
        )
    }

    /// The settings.
    pub fn settings(&self) -> &AnomalySettings {
        &self.settings
    }

    fn rate_settings(&self) -> RateSettings {
        let s = &self.settings;
        RateSettings {
            factor: s.rate_factor,
            min_per_minute: s.rate_min_per_minute,
            baseline_minutes: s.rate_baseline_minutes,
            warmup_minutes: s.rate_warmup_minutes,
        }
    }

    fn burst_settings(&self) -> BurstSettings {
        let s = &self.settings;
        BurstSettings {
            window_ms: s.burst_window_ms,
            errors: s.burst_errors,
            apis: s.burst_apis,
        }
    }

    /// Runs every observation of `obs`, in order, adding what is found to `found` (nothing in
    /// learn-only mode).
    pub fn observe_all(&mut self, obs: &Observations, found: &mut Vec<Found>) {
        let mark = found.len();
        for o in &obs.items {
            self.observe(obs, o, found);
        }
        if self.settings.learn_only {
            found.truncate(mark);
        }
    }

    fn observe(&mut self, obs: &Observations, o: &Observation, found: &mut Vec<Found>) {
        let minute = o.time_ms.div_euclid(60_000);
        let rates_on = self.settings.enabled(DetectorKind::ApiCallRate)
            || self.settings.enabled(DetectorKind::ApiErrorRate);
        if minute > self.newest_minute {
            let first = self.newest_minute == i64::MIN;
            self.newest_minute = minute;
            if !first {
                let rs = self.rate_settings();
                let mut ends = std::mem::take(&mut self.rate_events);
                self.rates.sweep(minute, &rs, &mut ends);
                self.emit_rates(&mut ends, obs, o, false, found);
                self.rate_events = ends;
                let bs = self.burst_settings();
                self.bursts.expire(o.time_ms, &bs);
            }
        }
        if rates_on && !o.event_source.is_empty() && !o.event_name.is_empty() {
            let key = chain(
                seed::RATE,
                &[
                    obs.get(&o.account),
                    obs.get(&o.event_source),
                    obs.get(&o.event_name),
                ],
            );
            let rs = self.rate_settings();
            let mut events = std::mem::take(&mut self.rate_events);
            self.rates
                .observe(key, minute, !o.error_code.is_empty(), &rs, &mut events);
            for e in &events {
                if e.start {
                    self.rate_labels.entry(e.key).or_insert_with(|| RateLabels {
                        account: obs.text(&o.account).to_owned(),
                        event_source: obs.text(&o.event_source).to_owned(),
                        event_name: obs.text(&o.event_name).to_owned(),
                        region: obs.text(&o.region).to_owned(),
                    });
                }
            }
            self.emit_rates(&mut events, obs, o, true, found);
            self.rate_events = events;
        }
        self.principal(obs, o, found);
    }

    /// Turns rate events into records; `own` when they are about `o`'s own key (its
    /// enrichment lists them), else they are ends that time passing caused.
    fn emit_rates(
        &mut self,
        events: &mut Vec<RateEvent>,
        obs: &Observations,
        o: &Observation,
        own: bool,
        found: &mut Vec<Found>,
    ) {
        for e in events.drain(..) {
            let on = match e.quantity {
                super::rate::Quantity::Calls => self.settings.enabled(DetectorKind::ApiCallRate),
                super::rate::Quantity::Errors => self.settings.enabled(DetectorKind::ApiErrorRate),
            };
            let labels = if e.start {
                self.rate_labels.get(&e.key).cloned()
            } else {
                let still = self
                    .rates
                    .keys
                    .get(&e.key)
                    .is_some_and(|st| st.series.iter().any(|s| s.active.is_some()));
                if still {
                    self.rate_labels.get(&e.key).cloned()
                } else {
                    self.rate_labels.remove(&e.key)
                }
            };
            let (Some(labels), true) = (labels, on) else {
                continue;
            };
            let time_ms = if e.start {
                o.time_ms
            } else {
                (e.since_minute + e.minutes) * 60_000
            };
            found.push(
                RateRecord {
                    event: &e,
                    labels: &labels,
                    time_ms,
                    event_id: obs.text(&o.event_id),
                    forwarded: if own { o.forwarded } else { None },
                }
                .render(),
            );
        }
    }

    fn principal(&mut self, obs: &Observations, o: &Observation, found: &mut Vec<Found>) {
        if o.identity == Identity::Service || o.principal.is_empty() {
            return;
        }
        let principal = obs.get(&o.principal);
        if self
            .settings
            .ignore_principals
            .iter()
            .any(|p| p.matches(principal))
        {
            return;
        }
        let time_s = u32::try_from(o.time_ms.div_euclid(1000)).unwrap_or(0);
        let key = fingerprint(seed::PRINCIPAL, principal);
        let touch = self.principals.touch(key, time_s);
        let s = &self.settings;
        let age = time_s.saturating_sub(touch.first_s);
        let learned = age >= s.learning_secs
            || (age >= s.learning_min_secs && touch.events >= s.learning_events);

        let api = chain(
            seed::VALUE,
            &[obs.get(&o.event_source), obs.get(&o.event_name)],
        );
        if s.enabled(DetectorKind::NewSourceIp) {
            if let Some((ip, prefix)) = self.address(obs.text(&o.source_ip)) {
                self.first_seen(
                    DetectorKind::NewSourceIp,
                    ValueKind::SourceIp,
                    ip,
                    &touch,
                    learned,
                    obs,
                    o,
                    found,
                    || format!("{}/{prefix}", masked_text(obs.text(&o.source_ip), prefix)),
                );
            }
        }
        if self.settings.enabled(DetectorKind::NewRegion)
            && !o.region.is_empty()
            && !is_global_service(obs.get(&o.event_source))
        {
            let h = fingerprint(seed::VALUE, obs.get(&o.region));
            self.first_seen(
                DetectorKind::NewRegion,
                ValueKind::Region,
                h,
                &touch,
                learned,
                obs,
                o,
                found,
                || obs.text(&o.region).to_owned(),
            );
        }
        if self.settings.enabled(DetectorKind::NewUserAgent) && !o.user_agent.is_empty() {
            let family = user_agent_family(obs.get(&o.user_agent));
            self.scratch.clear();
            self.scratch
                .extend(family.iter().map(u8::to_ascii_lowercase));
            let h = fingerprint(seed::VALUE, &self.scratch);
            self.first_seen(
                DetectorKind::NewUserAgent,
                ValueKind::UserAgent,
                h,
                &touch,
                learned,
                obs,
                o,
                found,
                || String::from_utf8_lossy(family).into_owned(),
            );
        }
        if self.settings.enabled(DetectorKind::NewApi) && !o.event_name.is_empty() {
            let tag = ValueKind::Api.tag(api);
            let reportable = self.settings.new_api_reads || !o.is_read(obs);
            if self.principals.see(touch.slot, ValueKind::Api, tag) == Seen::New && reportable {
                // Reported only for a principal whose repertoire (of reported calls: by
                // default those that change something) had settled.
                let grew = self.principals.api_grew(touch.slot, time_s);
                let settled = time_s.saturating_sub(grew) >= self.settings.new_api_settle_secs;
                if learned && settled {
                    let value =
                        format!("{}:{}", obs.text(&o.event_source), obs.text(&o.event_name));
                    let detail = first_seen_detail(&value, &touch)
                        .str("api_set_grew", &format_time(i64::from(grew) * 1000));
                    found.push(principal_record(DetectorKind::NewApi, obs, o, detail));
                }
            }
        }
        if self.settings.enabled(DetectorKind::NewAccessKey)
            && matches!(o.identity, Identity::Root | Identity::IamUser)
            && obs.get(&o.access_key).starts_with(b"AKIA")
        {
            let h = fingerprint(seed::VALUE, obs.get(&o.access_key));
            self.first_seen(
                DetectorKind::NewAccessKey,
                ValueKind::AccessKey,
                h,
                &touch,
                learned,
                obs,
                o,
                found,
                || obs.text(&o.access_key).to_owned(),
            );
        }
        if self.settings.enabled(DetectorKind::ErrorBurst) && is_denied(obs.get(&o.error_code)) {
            let bs = self.burst_settings();
            if let Some(b) = self.bursts.observe(key, (api >> 32) as u32, o.time_ms, &bs) {
                let detail = Detail::new()
                    .num("errors", b.errors as f64)
                    .num("apis", b.apis as f64)
                    .num("window_seconds", (bs.window_ms / 1000) as f64)
                    .str("since", &format_time(b.since_ms));
                found.push(principal_record(DetectorKind::ErrorBurst, obs, o, detail));
            }
        }
    }

    /// The comparable form of a source address: its prefix's hash and the prefix length; `None`
    /// for service names (`ec2.amazonaws.com`, `AWS Internal`) and ignored ranges.
    fn address(&self, text: &str) -> Option<(u64, u8)> {
        let ip: IpAddr = text.parse().ok()?;
        if self
            .settings
            .ignore_source_ips
            .iter()
            .any(|c| c.contains(ip))
        {
            return None;
        }
        let (bits, prefix, v) = match ip {
            IpAddr::V4(a) => (32, self.settings.ipv4_prefix, u128::from(u32::from(a))),
            IpAddr::V6(a) => (128, self.settings.ipv6_prefix, u128::from(a)),
        };
        let masked = mask(v, bits, prefix);
        let mut b = [0u8; 17];
        b[0] = bits;
        b[1..].copy_from_slice(&masked.to_le_bytes());
        Some((fingerprint(seed::VALUE, &b), prefix))
    }

    #[allow(clippy::too_many_arguments)]
    fn first_seen(
        &mut self,
        detector: DetectorKind,
        kind: ValueKind,
        hash: u64,
        touch: &Touch,
        learned: bool,
        obs: &Observations,
        o: &Observation,
        found: &mut Vec<Found>,
        value: impl FnOnce() -> String,
    ) {
        if self.principals.see(touch.slot, kind, kind.tag(hash)) == Seen::New && learned {
            let detail = first_seen_detail(&value(), touch);
            found.push(principal_record(detector, obs, o, detail));
        }
    }
}

fn first_seen_detail(value: &str, touch: &Touch) -> Detail {
    Detail::new()
        .str("new", value)
        .str(
            "principal_first_seen",
            &format_time(i64::from(touch.first_s) * 1000),
        )
        .num("principal_events", f64::from(touch.events))
}

/// One fingerprint of several fields (separated, so `ab`+`c` differs from `a`+`bc`).
fn chain(seed: u64, parts: &[&[u8]]) -> u64 {
    parts.iter().fold(seed, |h, p| {
        fingerprint(h.rotate_left(17) ^ p.len() as u64, p)
    })
}

/// The address with the bits past `prefix` cleared, as text.
fn masked_text(text: &str, prefix: u8) -> String {
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            std::net::Ipv4Addr::from(mask(u128::from(u32::from(a)), 32, prefix) as u32).to_string()
        }
        Ok(IpAddr::V6(a)) => std::net::Ipv6Addr::from(mask(u128::from(a), 128, prefix)).to_string(),
        Err(_) => text.to_owned(),
    }
}
