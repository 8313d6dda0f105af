//! The `http_file_upload` capability (docs/protocol.md §8): `POST /upload` (multipart) on
//! the main port stores a file, `GET /file/ID/NAME` downloads it, files expire
//! after the TTL. `/http_file_upload-info` tells users how.
//!
//! Config, `[capabilities.http_file_upload]`: `max_size` (bytes, default
//! 5242880), `ttl_secs` (default 86400), and optionally `public_host` /
//! `public_port` for the URLs (default: the server's host and main port).
//! Expired files are removed by the tick hook, which the server calls every
//! `min(ttl_secs, 60)` seconds; downloads check the expiry themselves too.

mod files;
mod upload;

use files::Files;
use plugin_api::serde_json::to_string as js;
use plugin_api::{Caller, Capability, Command, Host, HttpRequest, HttpResponse, Reply};
use serde::Deserialize;

/// `[capabilities.http_file_upload]`.
#[derive(Deserialize)]
#[serde(default)]
struct Config {
    max_size: u64,
    ttl_secs: u64,
    public_host: Option<String>,
    public_port: Option<u16>,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_size: 5_242_880, ttl_secs: 86_400, public_host: None, public_port: None }
    }
}

/// Room for multipart boundaries and part headers around the file.
const MULTIPART_OVERHEAD: u64 = 16 * 1024;

/// The capability.
pub struct HttpFileUpload {
    host: Host,
    cfg: Config,
    files: Files,
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
        Ok(HttpFileUpload { host, cfg, files })
    }

    /// `http://HOST:PORT`.
    fn base(&self) -> String {
        let host = self.cfg.public_host.clone().unwrap_or_else(|| self.host.host_name());
        let port = self.cfg.public_port.unwrap_or_else(|| self.host.main_port());
        format!("http://{host}:{port}")
    }

    fn upload(&self, req: HttpRequest) -> HttpResponse {
        let content_type = req.header("content-type").map(str::to_owned);
        let (sent_name, data) = match upload::file_part(content_type.as_deref(), req.body, self.cfg.max_size) {
            Ok(p) => p,
            Err(why) => return error(400, &why.reason()),
        };
        let name = files::sanitize(&sent_name);
        match self.files.save(&name, &data) {
            Ok(id) => {
                let url = format!("{}/file/{id}/{name}", self.base());
                let body = format!(
                    "{{\"status\":\"ok\",\"id\":{},\"filename\":{},\"size\":{},\"url\":{}}}",
                    js(&id).unwrap_or_default(),
                    js(&name).unwrap_or_default(),
                    data.len(),
                    js(&url).unwrap_or_default()
                );
                HttpResponse::json(200, &body)
            }
            Err(e) => {
                self.host.error(&format!("storing an upload: {e}"));
                error(500, "could not store the file")
            }
        }
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
        vec![Command::new("info", "", "Show how to upload and download files over HTTP")]
    }

    fn command(&self, _command: &str, _args: &str, _caller: &Caller) -> Reply {
        let base = self.base();
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

    fn http(&self, req: HttpRequest) -> HttpResponse {
        let path = req.path.split('?').next().unwrap_or("").to_owned();
        match (req.method.as_str(), path.as_str()) {
            ("POST", "/upload") => self.upload(req),
            ("GET", p) if p.starts_with("/file/") => self.download(p),
            (_, "/upload") => error(405, "use POST with multipart/form-data"),
            _ => error(404, "not found"),
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
