//! The client side of the two encrypted transports: TLS (rustls, any server
//! certificate accepted: the benchmark measures the server, not the PKI) and the
//! legacy encrypted port (docs/protocol.md §6, the same crates as the server).

use aes::{Aes256Dec, Aes256Enc};
use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use hmac::{Hmac, Mac};
use num_bigint::{BigUint, RandBigInt};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

type HmacSha256 = Hmac<Sha256>;

// --- TLS ---------------------------------------------------------------------

/// Accepts whatever certificate the server shows (signatures are still checked).
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, tokio_rustls::rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// One client configuration for every connection (session tickets are not resumed on purpose:
/// each connection pays a full handshake, as distinct users would).
fn connector() -> TlsConnector {
    static CONNECTOR: OnceLock<TlsConnector> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            let provider = Arc::new(ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
                .with_no_client_auth();
            TlsConnector::from(Arc::new(config))
        })
        .clone()
}

/// Runs the TLS handshake on a connected socket.
pub async fn tls(stream: TcpStream) -> io::Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
    connector().connect(name, stream).await
}

// --- legacy encrypted port ---------------------------------------------------

/// RFC 2409 section 6.1, "First Oakley Group" (protocol.md §6).
const PRIME_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1",
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245",
    "E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF",
);
const IV_LEN: usize = 16;
const TAG_LEN: usize = 32;
/// Larger server frames are refused (the server sends one message per frame).
const MAX_FRAME: usize = 1 << 20;

fn prime() -> &'static BigUint {
    static PRIME: OnceLock<BigUint> = OnceLock::new();
    PRIME.get_or_init(|| BigUint::parse_bytes(PRIME_HEX.as_bytes(), 16).expect("valid hex"))
}

/// The session keys of protocol.md §6 step 3, expanded once (the receive path
/// opens every delivery: its cost is the generator's, not the server's).
pub struct Keys {
    enc: Aes256Enc,
    dec: Aes256Dec,
    mac: HmacSha256,
}

/// Runs the client side of the key exchange.
pub async fn legacy(stream: &mut TcpStream) -> io::Result<Keys> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    let mut theirs = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut theirs).await?;
    let theirs = BigUint::from_bytes_be(&theirs);
    let secret = rand::rngs::OsRng.gen_biguint(256);
    let ours = BigUint::from(2u32).modpow(&secret, prime()).to_bytes_be();
    let mut hello = (ours.len() as u16).to_be_bytes().to_vec();
    hello.extend_from_slice(&ours);
    stream.write_all(&hello).await?;
    let shared = theirs.modpow(&secret, prime()).to_bytes_be();
    let hash = |label: &[u8]| -> [u8; 32] { Sha256::digest([&shared[..], label].concat()).into() };
    let (enc, mac) = (hash(b"|KEY"), hash(b"|MAC"));
    Ok(Keys {
        enc: Aes256Enc::new(&enc.into()),
        dec: Aes256Dec::new(&enc.into()),
        mac: <HmacSha256 as Mac>::new_from_slice(&mac).expect("any key length"),
    })
}

impl Keys {
    /// Appends one frame (length prefix included) carrying `text`.
    pub fn seal(&self, text: &[u8], out: &mut Vec<u8>) {
        let mut iv = [0u8; IV_LEN];
        rand::thread_rng().fill_bytes(&mut iv);
        let ct =
            cbc::Encryptor::<&Aes256Enc>::inner_iv_init(&self.enc, &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(text);
        let mut mac = self.mac.clone();
        mac.update(&iv);
        mac.update(&ct);
        out.extend_from_slice(&((IV_LEN + ct.len() + TAG_LEN) as u32).to_be_bytes());
        out.extend_from_slice(&iv);
        out.extend_from_slice(&ct);
        out.extend_from_slice(&mac.finalize().into_bytes());
    }

    /// Checks and decrypts one frame body (`IV || ciphertext || tag`) in place.
    pub fn open<'a>(&self, body: &'a mut [u8]) -> io::Result<&'a [u8]> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("legacy frame: {what}"));
        if body.len() < IV_LEN + 16 + TAG_LEN || !(body.len() - IV_LEN - TAG_LEN).is_multiple_of(16) {
            return Err(bad("bad length"));
        }
        let (data, tag) = body.split_at_mut(body.len() - TAG_LEN);
        let mut mac = self.mac.clone();
        mac.update(data);
        mac.verify_slice(tag).map_err(|_| bad("bad tag"))?;
        let (iv, ct) = data.split_at_mut(IV_LEN);
        let iv: [u8; IV_LEN] = (&*iv).try_into().map_err(|_| bad("bad IV"))?;
        cbc::Decryptor::<&Aes256Dec>::inner_iv_init(&self.dec, &iv.into())
            .decrypt_padded_mut::<Pkcs7>(ct)
            .map_err(|_| bad("bad padding"))
    }
}

/// Splits whole frames off the front of `raw[..*len]`, handing each decrypted text to `push`;
/// a partial frame stays (moved to the front).
pub fn open_frames(keys: &Keys, raw: &mut [u8], len: &mut usize, mut push: impl FnMut(&[u8])) -> io::Result<()> {
    let mut at = 0;
    while *len - at >= 4 {
        let n = u32::from_be_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]) as usize;
        if n > MAX_FRAME {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("legacy frame of {n} bytes")));
        }
        if *len - at < 4 + n {
            break;
        }
        push(keys.open(&mut raw[at + 4..at + 4 + n])?);
        at += 4 + n;
    }
    raw.copy_within(at..*len, 0);
    *len -= at;
    Ok(())
}

/// The raw buffer must hold at least one whole frame of `n` bytes.
pub fn frame_room(raw: &[u8], len: usize) -> Option<usize> {
    (len >= 4).then(|| 4 + u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize)
}
