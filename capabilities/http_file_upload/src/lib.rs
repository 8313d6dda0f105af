//! The `http_file_upload` capability (docs/protocol.md §8): `POST /upload` (multipart) on
//! the main port stores a file, `GET /file/ID/NAME` downloads it, files expire
//! after the TTL. `/http_file_upload-info` tells users how.
//!
//! Config, `[capabilities.http_file_upload]`: `max_size` (bytes, default
//! 5242880), `ttl_secs` (default 86400), optionally `public_host` /
//! `public_port` for the URLs (default: the server's host and main port), and
//! `require_token` (default false) with `token_ttl_secs` (default 300): uploads
//! then need a URL from `/http_file_upload-token`.
//!
//! Request bodies come as a temporary file from the server (`http_body_to_file`):
//! the multipart body is read from it in chunks, so no upload is ever whole in memory.
//! Expired files are removed by the tick hook, which the server calls every
//! `min(ttl_secs, 60)` seconds; downloads check the expiry themselves too.

mod files;
mod token;
mod upload;

use files::Files;
use plugin_api::serde_json::to_string as js;
use plugin_api::{Caller, Capability, Command, Host, HttpRequest, HttpResponse, Reply};
use serde::Deserialize;
use std::io::{Read, Write};

/// `[capabilities.http_file_upload]`.
#[derive(Deserialize)]
#[serde(default)]
struct Config {
    max_size: u64,
    ttl_secs: u64,
    public_host: Option<String>,
    public_port: Option<u16>,
    require_token: bool,
    token_ttl_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_size: 5_242_880,
            ttl_secs: 86_400,
            public_host: None,
            public_port: None,
            require_token: false,
            token_ttl_secs: 300,
        }
    }
}

/// Room for multipart boundaries and part headers around the file.
const MULTIPART_OVERHEAD: u64 = 16 * 1024;

/// The capability.
pub struct HttpFileUpload {
    host: Host,
    cfg: Config,
    files: Files,
    /// Set when `require_token` is on.
    tokens: Option<token::Tokens>,
}

fn error(status: u16, reason: &str) -> HttpResponse {
    HttpResponse::json(status, &format!("{{\"status\":\"error\",\"reason\":{}}}", js(reason).unwrap_or_default()))
}

impl HttpFileUpload {
    /// Reads the config and prepares the file directory.
    pub fn new(host: Host) -> Result<HttpFileUpload, String> {
        let cfg: Config = host.config()?;
        if cfg.ttl_secs == 0 {
            return Err("ttl_secs must be at least 1".into());
        }
        let files = Files::new(host.clone(), cfg.ttl_secs)?;
        let tokens = match cfg.require_token {
            true if cfg.token_ttl_secs == 0 => return Err("token_ttl_secs must be at least 1".into()),
            true => Some(token::Tokens::load(&host, cfg.token_ttl_secs)?),
            false => None,
        };
        Ok(HttpFileUpload { host, cfg, files, tokens })
    }

    /// `http://HOST:PORT`.
    fn base(&self) -> String {
        let host = self.cfg.public_host.clone().unwrap_or_else(|| self.host.host_name());
        let port = self.cfg.public_port.unwrap_or_else(|| self.host.main_port());
        format!("http://{host}:{port}")
    }

    /// Stores the file part of a multipart body read from `body`.
    fn upload(&self, req: &HttpRequest, body: impl Read + Send + 'static) -> HttpResponse {
        if let Some(tokens) = &self.tokens {
            if !token::from_query(&req.path).is_some_and(|t| tokens.valid(t, files::now())) {
                return error(403, "upload token missing or expired; get one with /http_file_upload-token");
            }
        }
        let pending = match self.files.begin() {
            Ok(p) => p,
            Err(e) => return self.failed(&e),
        };
        let written = std::fs::File::create(&pending.part).map_err(|e| upload::Refused::Storage(e.to_string()));
        let copied = written.and_then(|f| {
            let mut out = std::io::BufWriter::new(f);
            let got = upload::file_part_to(req.header("content-type"), body, self.cfg.max_size, &mut out)?;
            out.flush().map_err(|e| upload::Refused::Storage(e.to_string()))?;
            Ok(got)
        });
        let (sent_name, size) = match copied {
            Ok(got) => got,
            Err(why) => {
                self.files.abandon(pending);
                return match why {
                    upload::Refused::Storage(e) => self.failed(&e),
                    why => error(400, &why.reason()),
                };
            }
        };
        let name = files::sanitize(&sent_name);
        match self.files.commit(pending, &name, size) {
            Ok(id) => {
                let url = format!("{}/file/{id}/{name}", self.base());
                let body = format!(
                    "{{\"status\":\"ok\",\"id\":{},\"filename\":{},\"size\":{},\"url\":{}}}",
                    js(&id).unwrap_or_default(),
                    js(&name).unwrap_or_default(),
                    size,
                    js(&url).unwrap_or_default()
                );
                HttpResponse::json(200, &body)
            }
            Err(e) => self.failed(&e),
        }
    }

    fn failed(&self, e: &str) -> HttpResponse {
        self.host.error(&format!("storing an upload: {e}"));
        error(500, "could not store the file")
    }

    fn download(&self, path: &str) -> HttpResponse {
        let rest = path.strip_prefix("/file/").unwrap_or("");
        let found = rest.split_once('/').and_then(|(id, name)| self.files.find(id, name).map(|p| (p, name)));
        match found {
            Some((file, name)) => HttpResponse::file(
                file,
                vec![
                    ("Content-Type".into(), "application/octet-stream".into()),
                    ("Content-Disposition".into(), format!("attachment; filename=\"{name}\"")),
                ],
            ),
            None => error(404, "file not found"),
        }
    }
}

impl Capability for HttpFileUpload {
    const NAME: &'static str = "http_file_upload";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn commands(&self) -> Vec<Command> {
        let mut c = vec![Command::new("info", "", "Show how to upload and download files over HTTP")];
        // Listed only when uploads need it, so the default help stays as it always was.
        if self.tokens.is_some() {
            c.push(Command::new("token", "", "Get a short-lived URL to upload one or more files"));
        }
        c
    }

    fn command(&self, command: &str, _args: &str, _caller: &Caller) -> Reply {
        let base = self.base();
        if let (Some(tokens), "token") = (&self.tokens, command) {
            let token = tokens.issue(files::now());
            return format!("Upload URL (valid for {} seconds): {base}/upload?token={token}", tokens.ttl()).into();
        }
        format!(
            "HTTP upload endpoint: {base}/upload\nDownload URL: {base}/file/<id>/<filename>\n\
             Retention (TTL): {} seconds.\nMax file size: {} bytes.",
            self.cfg.ttl_secs, self.cfg.max_size
        )
        .into()
    }

    fn http_prefixes(&self) -> Vec<String> {
        vec!["/upload".into(), "/file/".into()]
    }

    fn http_max_body(&self) -> u64 {
        self.cfg.max_size + MULTIPART_OVERHEAD
    }

    fn http(&self, mut req: HttpRequest) -> HttpResponse {
        let path = req.path.split('?').next().unwrap_or("").to_owned();
        match (req.method.as_str(), path.as_str()) {
            ("POST", "/upload") => {
                let body = std::io::Cursor::new(std::mem::take(&mut req.body));
                self.upload(&req, body)
            }
            ("GET", p) if p.starts_with("/file/") => self.download(p),
            (_, "/upload") => error(405, "use POST with multipart/form-data"),
            _ => error(404, "not found"),
        }
    }

    fn http_body_to_file(&self) -> bool {
        true
    }

    fn http_body_file(&self, req: HttpRequest, body_file: &std::path::Path) -> HttpResponse {
        let path = req.path.split('?').next().unwrap_or("");
        if (req.method.as_str(), path) != ("POST", "/upload") {
            return self.http(req);
        }
        match std::fs::File::open(body_file) {
            Ok(f) => self.upload(&req, f),
            Err(e) => self.failed(&format!("{}: {e}", body_file.display())),
        }
    }

    fn tick_secs(&self) -> u64 {
        self.cfg.ttl_secs.min(60)
    }

    fn tick(&self) {
        self.files.expire();
    }
}

plugin_api::export_capability!(HttpFileUpload::new);

#[cfg(test)]
mod tests;
