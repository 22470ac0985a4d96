//! A tiny stand-in for the Hugging Face hub's file API on 127.0.0.1, answering what hf-hub 1
//! and our downloader ask:
//!
//! - `HEAD|GET /{org}/{repo}/resolve/{revision}/{file}`: `revision` is the commit or `main`.
//!   Small files: 200 with `ETag` (the git blob id: sha1 of `blob <len>\\0<content>`), `X-Repo-Commit`, `Content-Length`.
//!   LFS files: 302 to `/cdn/{sha256}` (an absolute URL, as the hub redirects to its CDN) with
//!   `X-Repo-Commit`, `X-Linked-Etag` (the sha256), `X-Linked-Size` and a different `ETag`.
//!   Unknown file: 404 with `X-Error-Code: EntryNotFound` and `X-Repo-Commit`.
//! - `HEAD|GET /cdn/{sha256}`: the bytes, honouring `Range: bytes=N-` with 206 + `Content-Range`.
//! - `HEAD|GET {path}` of a file added with [`FakeHub::add_url_file`]: the bytes the same way,
//!   as a publisher's own server (Meta's `dl.fbaipublicfiles.com`) serves them.
//!
//! A repo can be gated ([`FakeHub::gate`]): its files answer 401 without a token and 403
//! with another one, as the hub does before a user has accepted the repo's licence.
//!
//! Faults on demand: drop the connection after N body bytes (once), serve corrupted bytes,
//! serve slowly (keyed by the repo file path, or the URL path of plain files). Every request
//! is logged so tests can assert what the client did.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use candle_core::{DType, Tensor};
use sha2::{Digest, Sha256};

pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Clone)]
struct HostedFile {
    content: Vec<u8>,
    lfs: bool,
}

#[derive(Default)]
struct Faults {
    /// File path -> body bytes to send before dropping the connection (applies once).
    drop_after: HashMap<String, usize>,
    corrupt: HashSet<String>,
    slow: HashSet<String>,
}

#[derive(Default)]
struct State {
    /// (repo, path) -> file.
    files: HashMap<(String, String), HostedFile>,
    /// URL path -> content of files served outside any repo.
    plain: HashMap<String, Vec<u8>>,
    faults: Faults,
    log: Vec<String>,
    /// Gated repo -> the token that may read it.
    gated: HashMap<String, String>,
    /// The commit the hub says it served, when it is not the one asked for (a repo whose
    /// history was rewritten, or a mirror that ignores revisions).
    reported_commit: Option<String>,
}

/// A running fake hub. Stops accepting when dropped (the listener thread is detached).
pub struct FakeHub {
    pub url: String,
    state: Arc<Mutex<State>>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The id git gives a blob, which the hub sends as the ETag of files stored in git.
pub fn git_blob_id(bytes: &[u8]) -> String {
    let mut hasher = sha1::Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl FakeHub {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let base = url.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                let base = base.clone();
                std::thread::spawn(move || serve_connection(stream, &state, &base));
            }
        });
        Self { url, state }
    }

    /// Hosts a small file (served directly, like git-stored files).
    pub fn add_file(&self, repo: &str, path: &str, content: &[u8]) {
        self.host(repo, path, content, false);
    }

    /// Hosts a large file the way LFS/xet files are served: HEAD/GET redirect to a CDN URL.
    pub fn add_lfs_file(&self, repo: &str, path: &str, content: &[u8]) {
        self.host(repo, path, content, true);
    }

    fn host(&self, repo: &str, path: &str, content: &[u8], lfs: bool) {
        self.lock().files.insert(
            (repo.to_string(), path.to_string()),
            HostedFile {
                content: content.to_vec(),
                lfs,
            },
        );
    }

    /// Serves `content` at the URL path `url_path` (`/demucs/x.th`), outside the hub's API.
    pub fn add_url_file(&self, url_path: &str, content: &[u8]) {
        self.lock()
            .plain
            .insert(url_path.to_string(), content.to_vec());
    }

    pub fn drop_connection_after(&self, path: &str, bytes: usize) {
        self.lock()
            .faults
            .drop_after
            .insert(path.to_string(), bytes);
    }

    pub fn corrupt(&self, path: &str) {
        self.lock().faults.corrupt.insert(path.to_string());
    }

    pub fn slow(&self, path: &str) {
        self.lock().faults.slow.insert(path.to_string());
    }

    /// Every request so far, as `METHOD /path [range]`.
    pub fn requests(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// Gates `repo`: only requests with `Authorization: Bearer {token}` read its files.
    pub fn gate(&self, repo: &str, token: &str) {
        self.lock().gated.insert(repo.into(), token.into());
    }

    /// From now on, every answer names `commit` as the one served, whatever was asked for.
    pub fn report_commit(&self, commit: &str) {
        self.lock().reported_commit = Some(commit.into());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Request {
    method: String,
    path: String,
    range_start: Option<u64>,
    /// The `Authorization` header's bearer token.
    token: Option<String>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut range_start = None;
    let mut token = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                token = value.trim().strip_prefix("Bearer ").map(str::to_string);
            }
            if name.eq_ignore_ascii_case("range") {
                range_start = value
                    .trim()
                    .strip_prefix("bytes=")
                    .and_then(|r| r.split('-').next())
                    .and_then(|s| s.parse().ok());
            }
        }
    }
    Some(Request {
        method,
        path,
        range_start,
        token,
    })
}

fn serve_connection(stream: TcpStream, state: &Mutex<State>, base: &str) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    // One request per connection keeps the fault injection simple; clients reconnect.
    if let Some(request) = read_request(&mut reader) {
        let _ = respond(&mut writer, &request, state, base);
    }
    let _ = writer.flush();
    let _ = writer.shutdown(std::net::Shutdown::Both);
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(
    out: &mut TcpStream,
    request: &Request,
    state: &Mutex<State>,
    base: &str,
) -> std::io::Result<()> {
    let mut guard = state.lock().unwrap_or_else(|p| p.into_inner());
    let range = request
        .range_start
        .map(|r| format!(" range={r}-"))
        .unwrap_or_default();
    guard
        .log
        .push(format!("{} {}{range}", request.method, request.path));
    let head_only = request.method == "HEAD";

    if let Some(content) = guard.plain.get(&request.path).cloned() {
        let path = request.path.clone();
        return serve_with_faults(out, guard, &path, content, request, head_only);
    }

    if let Some(sha) = request.path.strip_prefix("/cdn/") {
        let found = guard
            .files
            .iter()
            .find(|(_, f)| f.lfs && sha256_hex(&f.content) == sha)
            .map(|((_, path), f)| (path.clone(), f.content.clone()));
        let Some((path, content)) = found else {
            drop(guard);
            return write_head(out, "404 Not Found", &[], 0);
        };
        return serve_with_faults(out, guard, &path, content, request, head_only);
    }

    let Some(rest) = request.path.strip_prefix('/') else {
        return write_head(out, "400 Bad Request", &[], 0);
    };
    let parts: Vec<&str> = rest.splitn(5, '/').collect();
    if parts.len() != 5 || parts[2] != "resolve" {
        drop(guard);
        return write_head(
            out,
            "404 Not Found",
            &[("X-Error-Code", "RepoNotFound".into())],
            0,
        );
    }
    let repo = format!("{}/{}", parts[0], parts[1]);
    if let Some(allowed) = guard.gated.get(&repo).cloned() {
        let refusal = match &request.token {
            None => Some("401 Unauthorized"),
            Some(token) if *token != allowed => Some("403 Forbidden"),
            Some(_) => None,
        };
        if let Some(status) = refusal {
            drop(guard);
            return write_head(out, status, &[("X-Error-Code", "GatedRepo".into())], 0);
        }
    }
    let revision = percent_decode(parts[3]);
    let file_path = percent_decode(parts[4]);
    let served_commit = guard
        .reported_commit
        .clone()
        .unwrap_or_else(|| COMMIT.to_string());
    if revision != COMMIT && revision != "main" {
        drop(guard);
        return write_head(
            out,
            "404 Not Found",
            &[("X-Error-Code", "RevisionNotFound".into())],
            0,
        );
    }
    let Some(file) = guard.files.get(&(repo, file_path.clone())).cloned() else {
        drop(guard);
        let headers = [
            ("X-Error-Code", "EntryNotFound".into()),
            ("X-Repo-Commit", served_commit.clone()),
        ];
        return write_head(out, "404 Not Found", &headers, 0);
    };
    let sha = sha256_hex(&file.content);
    if file.lfs {
        drop(guard);
        let headers = [
            ("Location", format!("{base}/cdn/{sha}")),
            ("X-Repo-Commit", served_commit.clone()),
            ("X-Linked-Etag", format!("\"{sha}\"")),
            ("X-Linked-Size", file.content.len().to_string()),
            ("ETag", "W/\"redirect-etag\"".into()),
        ];
        return write_head(out, "302 Found", &headers, 0);
    }
    let drop_after = if head_only {
        None
    } else {
        guard.faults.drop_after.remove(&file_path)
    };
    let mut content = file.content.clone();
    if guard.faults.corrupt.contains(&file_path) {
        if let Some(byte) = content.get_mut(0) {
            *byte ^= 0xff;
        }
    }
    drop(guard);
    let headers = [
        ("ETag", format!("\"{}\"", git_blob_id(&file.content))),
        ("X-Repo-Commit", served_commit.clone()),
    ];
    write_head(out, "200 OK", &headers, content.len())?;
    if !head_only {
        let end = drop_after.unwrap_or(content.len()).min(content.len());
        out.write_all(&content[..end])?;
    }
    Ok(())
}

/// Serves `content` with ranges, applying the faults set for `fault_key`.
fn serve_with_faults(
    out: &mut TcpStream,
    mut guard: std::sync::MutexGuard<'_, State>,
    fault_key: &str,
    mut content: Vec<u8>,
    request: &Request,
    head_only: bool,
) -> std::io::Result<()> {
    if guard.faults.corrupt.contains(fault_key) {
        if let Some(byte) = content.get_mut(0) {
            *byte ^= 0xff;
        }
    }
    let drop_after = if head_only {
        None
    } else {
        guard.faults.drop_after.remove(fault_key)
    };
    let slow = guard.faults.slow.contains(fault_key);
    drop(guard);
    serve_bytes(
        out,
        &content,
        request.range_start,
        head_only,
        drop_after,
        slow,
    )
}

fn serve_bytes(
    out: &mut TcpStream,
    content: &[u8],
    range_start: Option<u64>,
    head_only: bool,
    drop_after: Option<usize>,
    slow: bool,
) -> std::io::Result<()> {
    let total = content.len();
    let start = range_start.map(|s| s as usize).unwrap_or(0);
    if start > total {
        return write_head(
            out,
            "416 Range Not Satisfiable",
            &[("Content-Range", format!("bytes */{total}"))],
            0,
        );
    }
    let body = &content[start..];
    if range_start.is_some() {
        let range = format!("bytes {start}-{}/{total}", total.saturating_sub(1));
        write_head(
            out,
            "206 Partial Content",
            &[("Content-Range", range), ("Accept-Ranges", "bytes".into())],
            body.len(),
        )?;
    } else {
        write_head(
            out,
            "200 OK",
            &[("Accept-Ranges", "bytes".into())],
            body.len(),
        )?;
    }
    if head_only {
        return Ok(());
    }
    let end = drop_after.unwrap_or(body.len()).min(body.len());
    for chunk in body[..end].chunks(4096) {
        out.write_all(chunk)?;
        if slow {
            out.flush()?;
            std::thread::sleep(Duration::from_millis(15));
        }
    }
    Ok(())
}

fn write_head(
    out: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    length: usize,
) -> std::io::Result<()> {
    let mut head =
        format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())
}

/// A tensor's dtype, shape and values (as f32), for comparing a conversion with its source.
pub fn tensor_values(t: &Tensor) -> (DType, Vec<usize>, Vec<f32>) {
    let values = t
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    (t.dtype(), t.dims().to_vec(), values)
}
