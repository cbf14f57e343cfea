//! How a sync reaches the server.
//!
//! Built in: core's `HttpTransport` (reqwest with rustls and bundled root certificates,
//! which needs no JNI set-up on Android). Or the app's own HTTP stack through
//! [`HttpClient`], a foreign trait: OkHttp on Android, URLSession on iOS,
//! `java.net.http.HttpClient` on the JVM, so the app's proxy, certificate pinning and
//! network policy apply (as application-services' viaduct lets apps do). Either way
//! the sync engine sees one core `Transport`.

use std::sync::Arc;

use fieldbook_core::sync::{HttpResponse as CoreResponse, Transport};

/// One request the sync engine wants sent: `POST url` with this body.
#[derive(Debug, Clone, uniffi::Record)]
pub struct HttpRequest {
    /// The full URL (the enrolled server plus the path, e.g. `/v1/sync`).
    pub url: String,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The `Authorization: Bearer` token, if any. Never log it.
    pub bearer_token: Option<String>,
    /// The body, sent as is.
    pub body: Vec<u8>,
}

/// The server's answer: any status (an HTTP error status is an answer, not a failure).
#[derive(Debug, Clone, uniffi::Record)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body, as received.
    pub body: Vec<u8>,
}

/// No HTTP answer at all (connection refused, reset, timed out, TLS failure).
#[derive(Debug, Clone, thiserror::Error, uniffi::Error)]
pub enum TransportError {
    /// The request did not get an answer.
    #[error("{reason}")]
    Failed {
        /// What went wrong, for logs.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TransportError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> TransportError {
        TransportError::Failed {
            reason: format!("the app's HTTP client threw: {}", e.reason),
        }
    }
}

/// An HTTP stack supplied by the app. `post` is called from the sync's own thread (never
/// the UI thread) and may block until the answer is in.
#[uniffi::export(with_foreign)]
pub trait HttpClient: Send + Sync {
    /// Send the request and return the server's answer, whatever its status; fail only
    /// when there is no answer.
    fn post(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// The app's [`HttpClient`] as a core transport to the enrolled server.
pub(crate) struct ForeignTransport {
    pub base_url: String,
    pub client: Arc<dyn HttpClient>,
}

impl Transport for ForeignTransport {
    fn post(
        &self,
        path: &str,
        bearer: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<CoreResponse, String> {
        let request = HttpRequest {
            url: format!("{}{path}", self.base_url.trim_end_matches('/')),
            content_type: content_type.to_string(),
            bearer_token: bearer.map(str::to_string),
            body,
        };
        match self.client.post(request) {
            Ok(r) => Ok(CoreResponse {
                status: r.status,
                body: r.body,
            }),
            Err(TransportError::Failed { reason }) => Err(reason),
        }
    }
}
