//! TLS: the plain protocol, line framing and all, inside TLS (rustls, ring).

use super::plain::{PlainWriter, StreamReader};
use super::{MessageReader, MessageWriter};
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{crypto::ring, ServerConfig};
use tokio_rustls::server::TlsStream;

/// Accepts TLS connections with one certificate chain and key.
pub struct TlsAcceptor {
    inner: tokio_rustls::TlsAcceptor,
}

impl TlsAcceptor {
    /// Loads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, String> {
        let certs = load_certs(cert)?;
        let key = load_key(key)?;
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("TLS certificate {} / key: {e}", cert.display()))?;
        Ok(Self { inner: tokio_rustls::TlsAcceptor::from(Arc::new(config)) })
    }

    /// Runs the TLS handshake (dropped after `timeout`) and hands back the
    /// session halves; `grace` is the plain port's bare-packet grace period.
    pub async fn accept(
        &self,
        stream: TcpStream,
        timeout: Duration,
        grace: Duration,
    ) -> io::Result<(Box<dyn MessageReader>, Box<dyn MessageWriter>)> {
        Ok(halves(self.handshake(stream, timeout).await?, grace))
    }

    /// Runs the TLS handshake only (dropped after `timeout`).
    pub async fn handshake(&self, stream: TcpStream, timeout: Duration) -> io::Result<TlsStream<TcpStream>> {
        let peer = stream.peer_addr().map_or_else(|_| "unknown".into(), |a| a.to_string());
        super::handshake_within("TLS", &peer, timeout, self.inner.accept(stream)).await
    }
}

/// The acceptor new TLS connections use; swapped on reload (open sessions keep theirs).
static CURRENT: std::sync::RwLock<Option<Arc<TlsAcceptor>>> = std::sync::RwLock::new(None);

/// Makes `acceptor` the one for new connections.
pub fn install(acceptor: TlsAcceptor) {
    *CURRENT.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(acceptor));
}

/// The acceptor for a new connection, if TLS is on.
pub fn current() -> Option<Arc<TlsAcceptor>> {
    CURRENT.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The chat session halves over any established byte stream (TLS, maybe with replayed first bytes).
pub fn halves<S>(stream: S, grace: Duration) -> (Box<dyn MessageReader>, Box<dyn MessageWriter>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(stream);
    (Box::new(StreamReader::new(rd, grace)), Box::new(PlainWriter::new(wr)))
}

fn open(path: &Path) -> Result<BufReader<File>, String> {
    File::open(path).map(BufReader::new).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = rustls_pemfile::certs(&mut open(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM in {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate found in {}", path.display()));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    rustls_pemfile::private_key(&mut open(path)?)
        .map_err(|e| format!("bad PEM in {}: {e}", path.display()))?
        .ok_or_else(|| format!("no private key found in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Inbound;
    use bytes::Bytes;
    use std::path::PathBuf;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
    use tokio::net::TcpListener;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};
    use tokio_rustls::TlsConnector;

    // A throwaway self-signed pair for "localhost", valid until 2126; test use only.
    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBkTCCATigAwIBAgIUCJI0T6UK1mGZ/USPBm3VLuUFfzgwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzIwMDYyOVoYDzIxMjYxMDMw
MjAwNjI5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQ6hOQmqjfPK+3Fk3gwPl3X1YQsqv6qWvLH5pt9RneeRDvS12w51P5o
gc4WeOSEpJoymWNinbsT32YgMouHh1Rqo2YwZDAdBgNVHQ4EFgQUTwOs9eSwyaXF
MDpvbHp2EGWzANUwHwYDVR0jBBgwFoAUTwOs9eSwyaXFMDpvbHp2EGWzANUwFAYD
VR0RBA0wC4IJbG9jYWxob3N0MAwGA1UdEwEB/wQCMAAwCgYIKoZIzj0EAwIDRwAw
RAIgJ5JD3CNQCnO4sewXPePkGUHGspcDVozNzg8/FfrPgBACIG7tvLnYi9G07OeF
gEiCBQCffkoFzdTqQ/chRzucGA7D
-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgbyWDtoLM91s+2s7x
RCF+9thxVIwDPTCGNwfHKtv5mKWhRANCAAQ6hOQmqjfPK+3Fk3gwPl3X1YQsqv6q
WvLH5pt9RneeRDvS12w51P5ogc4WeOSEpJoymWNinbsT32YgMouHh1Rq
-----END PRIVATE KEY-----\n";

    /// Writes the pair into a fresh temporary directory.
    fn pem_files(tag: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("dmconnect-tls-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, CERT).unwrap();
        std::fs::write(&key, KEY).unwrap();
        (cert, key)
    }

    fn connector() -> TlsConnector {
        let mut roots = RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut CERT.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    #[test]
    fn missing_or_wrong_files_give_clear_errors() {
        let (cert, key) = pem_files("errors");
        let missing = cert.with_file_name("nope.pem");
        let err = TlsAcceptor::from_pem_files(&missing, &key).err().unwrap();
        assert!(err.contains("cannot read") && err.contains("nope.pem"), "{err}");
        let err = TlsAcceptor::from_pem_files(&key, &key).err().unwrap();
        assert!(err.contains("no certificate"), "{err}");
        let err = TlsAcceptor::from_pem_files(&cert, &cert).err().unwrap();
        assert!(err.contains("no private key"), "{err}");
        assert!(TlsAcceptor::from_pem_files(&cert, &key).is_ok());
    }

    #[tokio::test]
    async fn lines_travel_inside_tls() {
        let (cert, key) = pem_files("lines");
        let acceptor = TlsAcceptor::from_pem_files(&cert, &key).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (mut r, mut w) = acceptor.accept(s, Duration::from_secs(5), Duration::from_millis(5)).await.unwrap();
            w.write(&[crate::hub::line(crate::replies::GREETING)], &|| {}).await.unwrap();
            let mut got = Vec::new();
            while let Some(m) = r.next().await {
                got.push(m);
                if got.len() == 3 {
                    w.write(&[Bytes::from_static(b"a\n"), Bytes::from_static(b"b\n")], &|| {}).await.unwrap();
                    w.shutdown().await;
                }
            }
            got
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = "localhost".try_into().unwrap();
        let tls = connector().connect(name, tcp).await.unwrap();
        let mut tls = AsyncBufReader::new(tls);
        let mut line = String::new();
        tls.read_line(&mut line).await.unwrap();
        assert_eq!(line, format!("{}\n", crate::replies::GREETING));
        tls.get_mut().write_all(b"/login alice pw\r\n/\r\n").await.unwrap();
        tls.get_mut().flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        tls.get_mut().write_all(b"bare packet").await.unwrap();
        tls.get_mut().flush().await.unwrap();
        let mut rest = String::new();
        tls.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "a\nb\n");
        drop(tls);
        let got = server.await.unwrap();
        let msg = |s: &str| Inbound::Message(s.to_owned());
        assert_eq!(got, vec![msg("/login alice pw"), msg("/"), msg("bare packet")]);
    }

    #[tokio::test]
    async fn silent_or_plain_clients_are_dropped() {
        let (cert, key) = pem_files("silent");
        let acceptor = Arc::new(TlsAcceptor::from_pem_files(&cert, &key).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut kinds = Vec::new();
            for _ in 0..2 {
                let (s, _) = listener.accept().await.unwrap();
                let res = acceptor.accept(s, Duration::from_millis(150), Duration::from_millis(5)).await;
                kinds.push(res.err().map(|e| e.kind()));
            }
            kinds
        });
        let t = std::time::Instant::now();
        let _silent = TcpStream::connect(addr).await.unwrap();
        let mut plain = TcpStream::connect(addr).await.unwrap();
        plain.write_all(b"/login alice pw\r\n").await.unwrap();
        let kinds = server.await.unwrap();
        assert_eq!(kinds[0], Some(io::ErrorKind::TimedOut));
        assert!(kinds[1].is_some(), "plain text is no TLS handshake");
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
