//! The server's Prometheus metrics, kept in a `prometheus-client` registry and rendered in
//! the Prometheus text format (0.0.4) at `/metrics`. The metric names are part of the
//! operators' dashboards: renaming one is a breaking change.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The label of `fieldbook_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

/// The server's metrics. Shared by all requests and connections; cheap to update.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Counter,
    syncs: Counter,
    fallbacks: Counter,
    enrolments: Counter,
    bytes_in: Counter,
    bytes_out: Counter,
    changes_appended: Counter,
    cards_sent: Counter,
    cards_refused: Counter,
    errors: Family<CodeLabel, Counter>,
    latency: Histogram,
    open_connections: Gauge,
    peak_connections: Gauge,
    connection_bytes_read: Counter,
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

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            // The text encoder appends `_total` to counter names.
            registry.register(name, help, c.clone());
            c
        };
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let requests = counter(
            &mut registry,
            "fieldbook_http_requests",
            "HTTP requests answered",
        );
        let syncs = counter(&mut registry, "fieldbook_syncs", "Sync requests completed");
        let fallbacks = counter(
            &mut registry,
            "fieldbook_fallbacks",
            "Fallback messages answered",
        );
        let enrolments = counter(&mut registry, "fieldbook_enrolments", "Devices enrolled");
        let bytes_in = counter(
            &mut registry,
            "fieldbook_sync_bytes_in",
            "Sync body bytes received",
        );
        let bytes_out = counter(
            &mut registry,
            "fieldbook_sync_bytes_out",
            "Sync body bytes sent",
        );
        let changes_appended = counter(
            &mut registry,
            "fieldbook_changes_appended",
            "Changes appended to the log",
        );
        let cards_sent = counter(
            &mut registry,
            "fieldbook_cards_sent",
            "Cards sent to devices",
        );
        let cards_refused = counter(
            &mut registry,
            "fieldbook_cards_refused",
            "Card pushes refused",
        );
        let errors = Family::<CodeLabel, Counter>::default();
        registry.register(
            "fieldbook_errors",
            "Error responses by stable code",
            errors.clone(),
        );
        let latency = Histogram::new(BUCKETS);
        registry.register(
            "fieldbook_http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        let open_connections = gauge(
            &mut registry,
            "fieldbook_open_connections",
            "TCP connections open now",
        );
        let peak_connections = gauge(
            &mut registry,
            "fieldbook_open_connections_peak",
            "Most TCP connections open at once since start",
        );
        let connection_bytes_read = counter(
            &mut registry,
            "fieldbook_connection_bytes_read",
            "Bytes read from client connections (headers and bodies)",
        );
        Metrics {
            registry,
            requests,
            syncs,
            fallbacks,
            enrolments,
            bytes_in,
            bytes_out,
            changes_appended,
            cards_sent,
            cards_refused,
            errors,
            latency,
            open_connections,
            peak_connections,
            connection_bytes_read,
        }
    }
}

impl Metrics {
    /// Counts one finished request.
    pub fn request(&self, latency: Duration, error_code: Option<&'static str>) {
        self.requests.inc();
        self.latency.observe(latency.as_secs_f64());
        if let Some(code) = error_code {
            self.errors.get_or_create(&CodeLabel { code }).inc();
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
                self.syncs.inc();
                self.bytes_in.inc_by(bytes_in);
                self.bytes_out.inc_by(bytes_out);
                self.changes_appended.inc_by(appended);
                self.cards_sent.inc_by(sent);
                self.cards_refused.inc_by(refused);
            }
            Event::Fallback {
                bytes_in,
                bytes_out,
            } => {
                self.fallbacks.inc();
                self.bytes_in.inc_by(bytes_in);
                self.bytes_out.inc_by(bytes_out);
            }
            Event::Enrolment => {
                self.enrolments.inc();
            }
        }
    }

    /// A connection was accepted.
    pub fn connection_opened(&self) {
        let open = self.open_connections.inc() + 1;
        // Several acceptors never race here (one accept loop), so max-after-read is exact.
        if open > self.peak_connections.get() {
            self.peak_connections.set(open);
        }
    }

    /// A connection closed.
    pub fn connection_closed(&self) {
        self.open_connections.dec();
    }

    /// Bytes were read from a client connection.
    pub fn bytes_read(&self, n: u64) {
        self.connection_bytes_read.inc_by(n);
    }

    /// Connections open now.
    pub fn open_connections(&self) -> i64 {
        self.open_connections.get()
    }

    /// The most connections that were open at once.
    pub fn peak_connections(&self) -> i64 {
        self.peak_connections.get()
    }

    /// Bytes read from all client connections so far.
    pub fn connection_bytes_read(&self) -> u64 {
        self.connection_bytes_read.get()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would leave a partial page,
        // which a scraper rejects as a whole.
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "metrics did not encode");
        }
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
        m.connection_opened();
        m.connection_opened();
        m.connection_closed();
        let text = m.render();
        assert!(text.contains("fieldbook_syncs_total 1"), "{text}");
        assert!(text.contains("fieldbook_sync_bytes_out_total 20"), "{text}");
        assert!(
            text.contains("fieldbook_errors_total{code=\"auth.bad_token\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("fieldbook_http_request_duration_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("fieldbook_http_request_duration_seconds_count 2"),
            "{text}"
        );
        assert!(text.contains("fieldbook_open_connections 1"), "{text}");
        assert!(text.contains("fieldbook_open_connections_peak 2"), "{text}");
    }
}
