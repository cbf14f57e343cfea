//! The default [`Transport`]: reqwest's blocking client with rustls.
//!
//! rustls with bundled root certificates needs no platform integration (Android's
//! platform verifier needs JNI set-up), and extra CA certificates (a company's own
//! CA) can be added from configuration.

use std::time::Duration;

use super::transport::{HttpResponse, Transport};
use crate::error::{Error, Result};

/// HTTP over reqwest, for desktop and tests.
pub struct HttpTransport {
    base: String,
    client: reqwest::blocking::Client,
}

impl HttpTransport {
    /// A transport to `base_url` (e.g. `https://sync.example.com`), trusting the
    /// bundled roots plus any PEM certificates in `extra_ca_pem`.
    pub fn new(base_url: &str, extra_ca_pem: &[Vec<u8>]) -> Result<HttpTransport> {
        let mut builder = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("fieldbook/", env!("CARGO_PKG_VERSION")));
        for pem in extra_ca_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| {
                Error::invalid("ca_certificate", format!("not a PEM certificate: {e}"))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().map_err(|e| Error::Network(e.to_string()))?;
        let base = base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::invalid(
                "server_url",
                "the server URL must start with http:// or https://",
            ));
        }
        Ok(HttpTransport { base, client })
    }
}

impl Transport for HttpTransport {
    fn post(
        &self,
        path: &str,
        bearer: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<HttpResponse, String> {
        let mut req = self
            .client
            .post(format!("{}{}", self.base, path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        let resp = req.send().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.bytes().map_err(|e| e.to_string())?.to_vec();
        Ok(HttpResponse { status, body })
    }
}
