//! The one seam between the sync engine and the network.
//!
//! The engine only needs "POST these bytes to this path and give me the status and
//! body". Desktop builds use [`super::http::HttpTransport`] (reqwest + rustls with
//! bundled roots); a phone app can plug in OkHttp or URLSession to honour the
//! system's proxy and enterprise CA settings, and tests can put a faulty proxy in
//! between.

/// An HTTP answer: status and body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response body.
    pub body: Vec<u8>,
}

/// Sends requests to the sync server.
pub trait Transport: Send + Sync {
    /// POST `body` to `path` (e.g. `/v1/sync`) with an optional bearer token.
    /// `Err` means no HTTP answer at all (connection refused, reset, timed out);
    /// an HTTP error status is an `Ok` response.
    fn post(
        &self,
        path: &str,
        bearer: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<HttpResponse, String>;
}
