//! Reads the file part of a `multipart/form-data` body with `multer`.

use bytes::Bytes;
use multer::{Constraints, Multipart, SizeLimit};

/// Why an upload was refused (all answered with 400).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not multipart/form-data with a boundary.
    NotMultipart,
    /// The file part is larger than the limit.
    TooLarge,
    /// Broken multipart, or no part with a file name.
    Malformed(String),
}

impl Refused {
    /// A one-line reason for the JSON answer.
    pub fn reason(&self) -> String {
        match self {
            Refused::NotMultipart => "expected multipart/form-data with a boundary".into(),
            Refused::TooLarge => "file too large".into(),
            Refused::Malformed(why) => format!("malformed upload: {why}"),
        }
    }
}

/// The first part carrying a file name: (file name as sent, bytes).
pub fn file_part(content_type: Option<&str>, body: Vec<u8>, max_size: u64) -> Result<(String, Vec<u8>), Refused> {
    let boundary = content_type.and_then(|ct| multer::parse_boundary(ct).ok()).ok_or(Refused::NotMultipart)?;
    let whole = body.len() as u64;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(Bytes::from(body)) });
    let limits = Constraints::new().size_limit(SizeLimit::new().per_field(max_size).whole_stream(whole.max(1)));
    let mut form = Multipart::with_constraints(stream, boundary, limits);
    futures_executor::block_on(async move {
        while let Some(mut field) = form.next_field().await.map_err(refused)? {
            let Some(name) = field.file_name().map(str::to_owned) else { continue };
            let mut data = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(refused)? {
                data.extend_from_slice(&chunk);
            }
            return Ok((name, data));
        }
        Err(Refused::Malformed("no file part".into()))
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
}
