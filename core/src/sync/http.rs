//! The default [`Transport`]: reqwest's blocking client with rustls.
//!
//! rustls with bundled root certificates (Mozilla's, from `webpki-root-certs`) needs no
//! platform integration: reqwest's default rustls set-up verifies through the platform
//! verifier, which on Android needs JNI initialisation, so the client is built with
//! `tls_certs_only` (the bundled roots plus any configured CA, a company's own), which
//! never calls it. An app that wants the system's trust store and proxy plugs in its own
//! HTTP stack instead (the FFI's `HttpClient`).

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
        let mut roots = bundled_roots();
        for pem in extra_ca_pem {
            // Parsed now (a single `from_pem` is only checked when the client is built,
            // and text without a certificate block would be accepted as none).
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| Error::invalid("ca_certificate", "not a PEM certificate"))?;
            roots.extend(certs);
        }
        builder = builder.tls_certs_only(roots);
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

/// Mozilla's root certificates as bundled in this build.
fn bundled_roots() -> Vec<reqwest::Certificate> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der).ok())
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_roots_are_there_and_a_bad_ca_is_refused() {
        assert!(bundled_roots().len() > 100, "Mozilla's roots are bundled");
        assert!(HttpTransport::new("https://sync.example.test", &[]).is_ok());
        let bad = HttpTransport::new("https://sync.example.test", &[b"not a pem".to_vec()]);
        assert_eq!(
            bad.map(|_| ()).map_err(|e| e.code()),
            Err("input.invalid_value")
        );
        assert!(HttpTransport::new("ftp://x", &[]).is_err());
    }
}
