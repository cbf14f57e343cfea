//! Prometheus metrics, written by hand: a few counters and one latency histogram do not
//! justify a metrics framework. Rendered in the text exposition format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The server's counters. Shared by all requests; lock-free except the error map.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: AtomicU64,
    syncs: AtomicU64,
    fallbacks: AtomicU64,
    enrolments: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    changes_appended: AtomicU64,
    cards_sent: AtomicU64,
    cards_refused: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

/// What one request contributes.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// A sync completed: bytes in and out (compressed), entries appended, cards sent and
    /// refused.
    Sync {
        /// Request body bytes.
        bytes_in: u64,
        /// Response body bytes.
        bytes_out: u64,
        /// Change-log entries appended.
        appended: u64,
        /// Cards sent to the device.
        sent: u64,
        /// Card pushes refused.
        refused: u64,
    },
    /// A fallback message was answered.
    Fallback {
        /// Request body bytes.
        bytes_in: u64,
        /// Response body bytes.
        bytes_out: u64,
    },
    /// A device enrolled.
    Enrolment,
}

impl Metrics {
    /// Counts one finished request.
    pub fn request(&self, latency: Duration, error_code: Option<&'static str>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let secs = latency.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if let Some(code) = error_code
            && let Ok(mut errors) = self.errors.lock()
        {
            *errors.entry(code).or_default() += 1;
        }
    }

    /// Counts a domain event.
    pub fn event(&self, event: Event) {
        match event {
            Event::Sync {
                bytes_in,
                bytes_out,
                appended,
                sent,
                refused,
            } => {
                self.syncs.fetch_add(1, Ordering::Relaxed);
                self.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
                self.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
                self.changes_appended.fetch_add(appended, Ordering::Relaxed);
                self.cards_sent.fetch_add(sent, Ordering::Relaxed);
                self.cards_refused.fetch_add(refused, Ordering::Relaxed);
            }
            Event::Fallback {
                bytes_in,
                bytes_out,
            } => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                self.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
                self.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
            }
            Event::Enrolment => {
                self.enrolments.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 9] = [
            (
                "fieldbook_http_requests_total",
                "HTTP requests answered",
                &self.requests,
            ),
            (
                "fieldbook_syncs_total",
                "Sync requests completed",
                &self.syncs,
            ),
            (
                "fieldbook_fallbacks_total",
                "Fallback messages answered",
                &self.fallbacks,
            ),
            (
                "fieldbook_enrolments_total",
                "Devices enrolled",
                &self.enrolments,
            ),
            (
                "fieldbook_sync_bytes_in_total",
                "Sync body bytes received",
                &self.bytes_in,
            ),
            (
                "fieldbook_sync_bytes_out_total",
                "Sync body bytes sent",
                &self.bytes_out,
            ),
            (
                "fieldbook_changes_appended_total",
                "Changes appended to the log",
                &self.changes_appended,
            ),
            (
                "fieldbook_cards_sent_total",
                "Cards sent to devices",
                &self.cards_sent,
            ),
            (
                "fieldbook_cards_refused_total",
                "Card pushes refused",
                &self.cards_refused,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP fieldbook_errors_total Error responses by stable code\n\
             # TYPE fieldbook_errors_total counter"
        );
        if let Ok(errors) = self.errors.lock() {
            for (code, n) in errors.iter() {
                let _ = writeln!(out, "fieldbook_errors_total{{code=\"{code}\"}} {n}");
            }
        }
        let name = "fieldbook_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} HTTP request latency\n# TYPE {name} histogram"
        );
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                self.latency_buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.request(Duration::from_millis(3), None);
        m.request(Duration::from_millis(30), Some("auth.bad_token"));
        m.event(Event::Sync {
            bytes_in: 10,
            bytes_out: 20,
            appended: 1,
            sent: 2,
            refused: 0,
        });
        let text = m.render();
        assert!(text.contains("fieldbook_syncs_total 1"));
        assert!(text.contains("fieldbook_sync_bytes_out_total 20"));
        assert!(text.contains("fieldbook_errors_total{code=\"auth.bad_token\"} 1"));
        assert!(text.contains("fieldbook_http_request_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("fieldbook_http_request_duration_seconds_count 2"));
    }
}
