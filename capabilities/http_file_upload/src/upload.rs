//! Reads the file part of a `multipart/form-data` body with `multer`.

use bytes::Bytes;
use multer::{Constraints, Multipart, SizeLimit};
use std::io::{Read, Write};

/// Why an upload was refused (answered with 400, or 500 for [`Refused::Storage`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not multipart/form-data with a boundary.
    NotMultipart,
    /// The file part is larger than the limit.
    TooLarge,
    /// Broken multipart, or no part with a file name.
    Malformed(String),
    /// Writing the file failed (answered with 500).
    Storage(String),
}

impl Refused {
    /// A one-line reason for the JSON answer.
    pub fn reason(&self) -> String {
        match self {
            Refused::NotMultipart => "expected multipart/form-data with a boundary".into(),
            Refused::TooLarge => "file too large".into(),
            Refused::Malformed(why) => format!("malformed upload: {why}"),
            Refused::Storage(_) => "could not store the file".into(),
        }
    }
}

/// Chunks read from the body at a time.
const CHUNK: usize = 64 * 1024;

/// Copies the first part carrying a file name from a `multipart/form-data` body
/// (read in chunks, never whole) into `dest`; returns (file name as sent, bytes written).
pub fn file_part_to<R: Read + Send + 'static>(
    content_type: Option<&str>,
    body: R,
    max_size: u64,
    dest: &mut impl Write,
) -> Result<(String, u64), Refused> {
    let boundary = content_type.and_then(|ct| multer::parse_boundary(ct).ok()).ok_or(Refused::NotMultipart)?;
    let limits = Constraints::new().size_limit(SizeLimit::new().per_field(max_size));
    let mut form = Multipart::with_constraints(chunks(body), boundary, limits);
    futures_executor::block_on(async move {
        while let Some(mut field) = form.next_field().await.map_err(refused)? {
            let Some(name) = field.file_name().map(str::to_owned) else { continue };
            let mut size = 0u64;
            while let Some(chunk) = field.chunk().await.map_err(refused)? {
                size += chunk.len() as u64;
                dest.write_all(&chunk).map_err(|e| Refused::Storage(e.to_string()))?;
            }
            return Ok((name, size));
        }
        Err(Refused::Malformed("no file part".into()))
    })
}

/// A reader as a stream of chunks (blocking reads: this runs on a blocking thread).
fn chunks<R: Read + Send + 'static>(mut r: R) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::poll_fn(move |_| {
        let mut buf = vec![0u8; CHUNK];
        std::task::Poll::Ready(match r.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some(Ok(Bytes::from(buf)))
            }
            Err(e) => Some(Err(e)),
        })
    })
}

fn refused(e: multer::Error) -> Refused {
    match e {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => Refused::TooLarge,
        other => Refused::Malformed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=XyZ";

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, file, data) in parts {
            b.extend_from_slice(b"--XyZ\r\n");
            match file {
                Some(f) => b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\r\n").as_bytes(),
                ),
                None => {
                    b.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes())
                }
            }
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"--XyZ--\r\n");
        b
    }

    fn file_part(ct: Option<&str>, body: Vec<u8>, max: u64) -> Result<(String, Vec<u8>), Refused> {
        let mut out = Vec::new();
        let (name, n) = file_part_to(ct, std::io::Cursor::new(body), max, &mut out)?;
        assert_eq!(n, out.len() as u64);
        Ok((name, out))
    }

    #[test]
    fn finds_the_file_part_and_enforces_the_limit() {
        let data: Vec<u8> = (0..=255).collect();
        let b = body(&[("note", None, b"hi"), ("file", Some("a b.bin"), &data)]);
        assert_eq!(file_part(Some(CT), b.clone(), 256), Ok(("a b.bin".to_string(), data)));
        assert_eq!(file_part(Some(CT), b, 255), Err(Refused::TooLarge));
        assert_eq!(file_part(Some("text/plain"), vec![], 10), Err(Refused::NotMultipart));
        assert!(matches!(file_part(Some(CT), body(&[("x", None, b"1")]), 10), Err(Refused::Malformed(_))));
        assert!(matches!(file_part(Some(CT), b"--XyZ\r\ngarbage".to_vec(), 10), Err(Refused::Malformed(_))));
    }

    #[test]
    fn large_parts_are_copied_in_chunks() {
        let data: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| (i % 251) as u8).collect();
        let b = body(&[("file", Some("big.bin"), &data)]);
        assert_eq!(file_part(Some(CT), b, data.len() as u64), Ok(("big.bin".to_string(), data)));
    }
}
