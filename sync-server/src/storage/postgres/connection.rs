//! How this server reaches its database: the URL's options beyond what `tokio-postgres`
//! parses, and TLS over the workspace's one TLS stack (rustls).
//!
//! **TLS is asked for, and then verified.** `sslmode=require`, `verify-ca` or
//! `verify-full` encrypts the connection and verifies the server's certificate and host
//! name, against `sslrootcert` (a PEM file, for a private CA) or else the public web's
//! roots. That is stricter than libpq, whose `require` encrypts without verifying: an
//! unverified connection is open to whoever sits in the middle, which is what TLS is for.
//! `disable`, `prefer` and no `sslmode` connect in the clear; opportunistic TLS (libpq's
//! `prefer`) is not done, for the same reason, and a URL saying `prefer` is warned about.
//!
//! Channel binding (SCRAM-SHA-256-PLUS) is not offered: it needs the certificate's
//! signature algorithm parsed, and the verified certificate already binds the session.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::pki_types::pem::PemObject;

use crate::error::{Error, Result};

/// Connections per instance unless the URL's `pool_size` says otherwise: enough for the
/// blocking threads a busy instance keeps in the database at once.
pub(super) const DEFAULT_POOL: usize = 16;

/// A database URL taken apart: what `tokio-postgres` parses, and what this server adds.
pub(super) struct DatabaseOptions {
    /// The driver's configuration, `sslmode` already set to what [`tls`](Self::tls) does.
    pub config: tokio_postgres::Config,
    /// The TLS connector every connection (pooled or listening) is made with.
    pub tls: MakeRustlsConnect,
    /// `pool_size`: connections this instance keeps at most.
    pub pool_size: usize,
}

impl DatabaseOptions {
    /// Parses a `postgres://` URL or a libpq `key=value` string. Errors never quote the
    /// URL: it may carry a password.
    pub fn parse(url: &str) -> Result<DatabaseOptions> {
        let mut extra = Extra::default();
        let rest = take_extra_options(url, &mut extra)?;
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e| Error::Storage(format!("bad database URL: {}", redact(&e))))?;
        let verify = extra.verify || config.get_ssl_mode() == SslMode::Require;
        if config.get_ssl_mode() == SslMode::Prefer && extra.said_prefer {
            tracing::warn!(
                "sslmode=prefer connects to the database without TLS: say sslmode=require \
                 for an encrypted, verified connection"
            );
        }
        if extra.root_cert.is_some() && !verify {
            return Err(Error::Storage(
                "sslrootcert is given but TLS is not asked for: add sslmode=verify-full".into(),
            ));
        }
        config.ssl_mode(if verify {
            SslMode::Require
        } else {
            SslMode::Disable
        });
        let tls = MakeRustlsConnect::new(if verify {
            Some(client_config(extra.root_cert.as_deref())?)
        } else {
            None
        });
        Ok(DatabaseOptions {
            config,
            tls,
            pool_size: extra.pool_size.unwrap_or(DEFAULT_POOL),
        })
    }
}

/// The options this server reads itself (`tokio-postgres` refuses keys it does not know).
#[derive(Default)]
struct Extra {
    root_cert: Option<String>,
    pool_size: Option<usize>,
    /// `sslmode=verify-ca|verify-full`, which `tokio-postgres` does not parse.
    verify: bool,
    said_prefer: bool,
}

impl Extra {
    /// Takes `key=value` if it is one of ours; false to leave it to the driver.
    fn take(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "sslrootcert" => self.root_cert = Some(value.to_owned()),
            "pool_size" => {
                let n = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1_000).contains(n))
                    .ok_or_else(|| {
                        Error::Storage("pool_size must be a number from 1 to 1000".into())
                    })?;
                self.pool_size = Some(n);
            }
            "sslmode" if value == "verify-ca" || value == "verify-full" => self.verify = true,
            "sslmode" => {
                self.said_prefer = value == "prefer";
                return Ok(false);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `url` without this server's own options, which are collected into `extra`.
fn take_extra_options(url: &str, extra: &mut Extra) -> Result<String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok(url.to_owned());
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !extra.take(key, &percent_decode(value)?)? {
                kept.push(pair);
            }
        }
        Ok(if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        })
    } else {
        // libpq's key=value form: our keys' values are plain (a path without spaces, a
        // number); anything else, quoted values included, goes to the driver unchanged.
        let mut kept = Vec::new();
        for token in url.split(' ').filter(|t| !t.is_empty()) {
            let taken = match token.split_once('=') {
                Some((key, value)) => extra.take(key, value)?,
                None => false,
            };
            if !taken {
                kept.push(token);
            }
        }
        Ok(kept.join(" "))
    }
}

/// Decodes `%XX` escapes (a root certificate's path may hold spaces).
fn percent_decode(value: &str) -> Result<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::Storage("bad %-escape in the database URL".into()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::Storage("bad %-escape in the database URL".into()))
}

/// A URL parse error without the URL (it may carry a password).
pub(super) fn redact(e: &tokio_postgres::Error) -> String {
    let s = e.to_string();
    if s.contains('@') || s.contains("password") {
        "the URL does not parse".into()
    } else {
        s
    }
}

/// rustls' client configuration: the roots from `root_cert` (PEM) or the public web's.
fn client_config(root_cert: Option<&str>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    Error::Storage(format!(
                        "the database's root certificate (sslrootcert={path}) cannot be read: {e}"
                    ))
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::Storage(format!(
                    "the database's root certificate (sslrootcert={path}) holds no certificate"
                )));
            }
        }
        None => {
            roots.add_parsable_certificates(
                webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned(),
            );
        }
    }
    // The provider is named, not taken from process-wide state: the workspace builds
    // rustls with aws-lc-rs only, as reqwest on the phone does.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Storage(format!("database TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Makes a TLS connector per connection, for the host being connected to. Without a
/// configuration (TLS not asked for) `tokio-postgres` never calls it: `sslmode` is
/// `disable` then.
#[derive(Clone)]
pub(super) struct MakeRustlsConnect {
    config: Option<Arc<rustls::ClientConfig>>,
}

impl MakeRustlsConnect {
    fn new(config: Option<Arc<rustls::ClientConfig>>) -> MakeRustlsConnect {
        MakeRustlsConnect { config }
    }
}

impl<S> MakeTlsConnect<S> for MakeRustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        // Called for every host, a Unix socket's too (with an empty name): a name that
        // cannot be verified fails the handshake, not the connection that needs none.
        Ok(RustlsConnect {
            name: ServerName::try_from(domain.to_owned()).ok(),
            config: self.config.clone(),
        })
    }
}

/// One connection's TLS handshake, with the server name its certificate must carry.
pub(super) struct RustlsConnect {
    name: Option<ServerName<'static>>,
    config: Option<Arc<rustls::ClientConfig>>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let (Some(name), Some(config)) = (self.name, self.config) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "TLS needs a host name or address to verify the database's certificate",
                ));
            };
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await?;
            Ok(RustlsStream(stream))
        })
    }
}

/// A TLS connection to the database.
pub(super) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<DatabaseOptions> {
        DatabaseOptions::parse(url)
    }

    #[test]
    fn our_options_are_taken_out_and_the_rest_left_to_the_driver() {
        let o = parse("postgres://fb@db.example/fieldbook?pool_size=4&application_name=甲")
            .expect("parses");
        assert_eq!(o.pool_size, 4);
        assert_eq!(o.config.get_application_name(), Some("甲"));
        assert_eq!(
            o.config.get_ssl_mode(),
            SslMode::Disable,
            "no TLS unless asked"
        );

        let o = parse("host=127.0.0.1 user=fb pool_size=2 dbname=fieldbook").expect("parses");
        assert_eq!(o.pool_size, 2);
        assert_eq!(o.config.get_dbname(), Some("fieldbook"));

        let o = parse("postgres://fb@db/fieldbook?sslmode=prefer").expect("parses");
        assert_eq!(
            o.config.get_ssl_mode(),
            SslMode::Disable,
            "no opportunistic TLS"
        );
        assert_eq!(
            parse("postgres://fb@db/x").expect("parses").pool_size,
            DEFAULT_POOL
        );
    }

    #[test]
    fn every_verifying_mode_asks_for_tls() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let o = parse(&format!("postgres://fb@db/fieldbook?sslmode={mode}")).expect(mode);
            assert_eq!(o.config.get_ssl_mode(), SslMode::Require, "{mode}");
            assert!(o.tls.config.is_some(), "{mode}");
        }
    }

    #[test]
    fn bad_options_are_refused_without_quoting_the_url() {
        for url in [
            "postgres://fb:secret@db/x?pool_size=0",
            "postgres://fb:secret@db/x?pool_size=many",
            "postgres://fb:secret@db/x?sslrootcert=/tmp/ca.pem",
            "postgres://fb:secret@db/x?sslmode=verify-full&sslrootcert=/nonexistent/客户.pem",
            "postgres://fb:secret@db/x?sslmode=require&sslrootcert=%zz",
            "postgres://fb:secret@db/x?sslmode=sometimes",
        ] {
            let err = parse(url).err().unwrap_or_else(|| panic!("{url} refused"));
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    #[test]
    fn a_root_certificate_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("fb-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("空 的.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let url = format!(
            "postgres://fb@db/x?sslmode=verify-full&sslrootcert={}",
            path.display().to_string().replace(' ', "%20")
        );
        let err = parse(&url).err().expect("refused");
        assert!(err.to_string().contains("holds no certificate"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
