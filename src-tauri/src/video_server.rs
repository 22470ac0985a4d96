//! Loopback HTTP server that streams a job's media files to the webview.
//!
//! Why it exists: WebKitGTK (the Linux webview behind Tauri) will not play a
//! `<video>` whose source uses a custom URL scheme, so media has to arrive
//! over real HTTP. The server listens on `127.0.0.1` only, on a random port,
//! and every URL carries a secret token generated per run, so neither other
//! local programs nor web pages can guess a working URL.
//!
//! Only files registered with [`VideoServer::publish`] can be served: the
//! request path is looked up in a table by exact key and is never joined onto
//! a filesystem path, so traversal tricks have nothing to reach.
//!
//! It speaks just the HTTP/1.1 a media element needs: `GET` and `HEAD`, a
//! single byte range (seeking), and keep-alive (WebKit reuses connections for
//! its range requests). Bodies are streamed in 64 KiB chunks.
//!
//! Its log lines are `debug` level (target `video_server`): WebKit aborts range
//! requests all the time while seeking.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// More simultaneous connections than a few media elements ever open; the cap
/// only stops a runaway client from exhausting threads.
const MAX_CONNECTIONS: usize = 32;
/// Idle keep-alive connections and stalled clients are dropped after this.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that stops reading (e.g. a paused player with full buffers) is
/// cut off after this; it simply reconnects with a range request later.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Body chunk size: large enough for throughput, small enough for memory.
const CHUNK_SIZE: usize = 64 * 1024;
/// Upper bound on request line + headers, so a client cannot grow memory.
const MAX_HEAD_BYTES: u64 = 16 * 1024;
const MAX_HEADERS: usize = 100;
const MAX_KEY_LEN: usize = 512;

macro_rules! debug_log {
    ($($arg:tt)*) => {
        // Aborted range requests are routine, not errors.
        tracing::debug!(target: "video_server", $($arg)*)
    };
}

/// A running server. Stops when dropped; safe to share (`Send + Sync`), e.g.
/// as Tauri managed state.
pub struct VideoServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept_thread: Mutex<Option<JoinHandle<()>>>,
}

/// State seen by the accept thread and every connection thread. Locks are
/// recovered after poisoning: the maps stay valid whatever panicked, and
/// `stop()` runs from `Drop`, where a panic would abort.
struct Shared {
    token: String,
    base_url: String,
    files: RwLock<HashMap<String, PathBuf>>,
    stopping: AtomicBool,
    active: AtomicUsize,
    /// Clones of live sockets, so `stop()` can close keep-alive connections
    /// instead of waiting for their timeouts.
    open: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

/// Why a key was refused by [`VideoServer::publish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidKey {
    key: String,
    reason: &'static str,
}

impl InvalidKey {
    /// The rejected key, as given.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Human-readable reason, e.g. "empty segment".
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for InvalidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid video key {:?}: {}", self.key, self.reason)
    }
}

impl std::error::Error for InvalidKey {}

impl VideoServer {
    /// Binds `127.0.0.1` on a random port and starts serving in the
    /// background. Nothing is reachable until something is published.
    pub fn start() -> io::Result<VideoServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let token = generate_token(&addr);
        let shared = Arc::new(Shared {
            base_url: format!("http://127.0.0.1:{}/{}/", addr.port(), token),
            token,
            files: RwLock::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        let worker = Arc::clone(&shared);
        let handle = thread::Builder::new()
            .name("video-server-accept".into())
            .spawn(move || accept_loop(listener, worker))?;
        Ok(VideoServer {
            shared,
            addr,
            accept_thread: Mutex::new(Some(handle)),
        })
    }

    /// The port the server listens on (random, chosen at start).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Makes `path` downloadable under `key` (e.g. `"<job-uuid>/video"`) and
    /// returns its URL, `http://127.0.0.1:PORT/TOKEN/KEY`. Publishing an
    /// existing key replaces its file. The file is opened per request, so it
    /// may be created or replaced later; a missing file is served as 404.
    ///
    /// Keys are one or more `/`-separated segments of `[A-Za-z0-9._-]`, with
    /// no empty, `.` or `..` segment, so the URL needs no escaping and no
    /// client-side path normalisation can change it.
    pub fn publish(&self, key: &str, path: impl Into<PathBuf>) -> Result<String, InvalidKey> {
        validate_key(key)?;
        self.shared
            .files
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), path.into());
        Ok(self.url(key))
    }

    /// The URL of a published key, or `None` if it is not published.
    pub fn url_for(&self, key: &str) -> Option<String> {
        let published = self
            .shared
            .files
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(key);
        published.then(|| self.url(key))
    }

    /// Removes one key; returns whether it was published.
    pub fn unpublish(&self, key: &str) -> bool {
        self.shared
            .files
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
            .is_some()
    }

    /// Removes every key equal to `prefix` or below it as whole segments
    /// (`"job1"` removes `"job1/video"` but not `"job10/video"`), e.g. when a
    /// job is deleted. A trailing `/` is ignored; an empty prefix removes
    /// nothing, so an empty job id cannot wipe everything. Returns how many
    /// keys were removed.
    pub fn unpublish_prefix(&self, prefix: &str) -> usize {
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() {
            return 0;
        }
        let mut files = self
            .shared
            .files
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let before = files.len();
        files.retain(|key, _| {
            let below = key
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            !below
        });
        before - files.len()
    }

    /// Stops accepting, closes open connections and waits for the accept
    /// thread. Idempotent; also run on drop.
    pub fn stop(&self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // accept() blocks; a throwaway connection wakes it to see the flag.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        let handle = self
            .accept_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            // If the wake-up failed, joining could block forever; the thread
            // then exits on its next accept instead.
            if woke && handle.join().is_err() {
                debug_log!("accept thread panicked");
            }
        }
        let open: Vec<TcpStream> = self
            .shared
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, stream)| stream)
            .collect();
        for stream in open {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn url(&self, key: &str) -> String {
        format!("{}{}", self.shared.base_url, key)
    }
}

impl Drop for VideoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Keys end up verbatim in URLs, so keep them to characters that never need
/// escaping and segments that no URL parser rewrites.
fn validate_key(key: &str) -> Result<(), InvalidKey> {
    let fail = |reason| {
        Err(InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return fail("key is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return fail("key is longer than 512 bytes");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return fail("empty segment (leading, trailing or double '/')");
        }
        if segment == "." || segment == ".." {
            return fail("'.' and '..' segments are not allowed");
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if !segment.chars().all(allowed) {
            return fail("only A-Z, a-z, 0-9, '.', '_' and '-' are allowed in segments");
        }
    }
    Ok(())
}

/// 128 bits from the OS, as 32 lowercase hex characters.
fn generate_token(addr: &SocketAddr) -> String {
    let mut bytes = [0u8; 16];
    let from_os = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if from_os.is_err() {
        bytes = fallback_random(addr);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// For systems without `/dev/urandom` (e.g. a Windows build): std's
/// `RandomState` is itself seeded from OS randomness, and mixing in time, pid
/// and address keeps the token unguessable for a loopback-only secret.
fn fallback_random(addr: &SocketAddr) -> [u8; 16] {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mixed = RandomState::new().hash_one((i, nanos, std::process::id(), addr));
        chunk.copy_from_slice(&mixed.to_le_bytes());
    }
    bytes
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for incoming in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        match incoming {
            Ok(stream) => admit(stream, &shared),
            Err(err) => {
                // E.g. out of file descriptors: back off instead of spinning.
                debug_log!("accept failed: {err}");
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Releases a connection's slot and its entry in `open`, however the
/// connection thread ends (or if it never starts).
struct ConnGuard {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.shared
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        self.shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn admit(stream: TcpStream, shared: &Arc<Shared>) {
    if shared.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        shared.active.fetch_sub(1, Ordering::SeqCst);
        reject_busy(stream);
        return;
    }
    let guard = ConnGuard {
        shared: Arc::clone(shared),
        id: shared.next_id.fetch_add(1, Ordering::Relaxed),
    };
    match stream.try_clone() {
        Ok(clone) => {
            shared
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(guard.id, clone);
        }
        Err(err) => {
            debug_log!("cannot track connection: {err}");
            return;
        }
    }
    let spawned = thread::Builder::new()
        .name("video-server-conn".into())
        .spawn(move || serve_connection(stream, &guard.shared));
    if let Err(err) = spawned {
        debug_log!("cannot spawn connection thread: {err}");
    }
}

/// Over the connection cap: answer 503 from the accept thread, briefly.
fn reject_busy(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let head = Head {
        status: 503,
        content_type: TEXT_PLAIN,
        content_length: 0,
        content_range: None,
        extra: Some(("Retry-After", "1")),
        keep_alive: false,
        http10: false,
    };
    let _ = head.write_to(&mut stream);
    let _ = stream.shutdown(Shutdown::Write);
}

/// A parsed request head. Header names are lower-cased.
struct Request {
    method: String,
    target: String,
    http10: bool,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn connection_has(&self, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == "connection")
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// HTTP/1.1 keeps connections open unless told otherwise; 1.0 the reverse.
    fn wants_keep_alive(&self) -> bool {
        if self.http10 {
            self.connection_has("keep-alive")
        } else {
            !self.connection_has("close")
        }
    }
}

enum RequestError {
    /// Answer 400 and close.
    Malformed(&'static str),
    /// The socket failed or the client went away mid-request: just close.
    Io(io::Error),
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    while !shared.stopping.load(Ordering::SeqCst) {
        let request = match read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(RequestError::Io(err)) => {
                debug_log!("connection dropped while reading a request: {err}");
                return;
            }
            Err(RequestError::Malformed(reason)) => {
                debug_log!("bad request: {reason}");
                let mut out = reader.get_ref();
                if send_text(&mut out, 400, false, false, false, None).is_ok() {
                    linger_close(reader.get_ref());
                }
                return;
            }
        };
        let mut out = reader.get_ref();
        match respond(&request, &mut out, shared) {
            Ok(true) => {}
            Ok(false) => {
                linger_close(reader.get_ref());
                return;
            }
            Err(err) => {
                // Usually the player aborting a range request while seeking.
                debug_log!(
                    "response to {} {} cut short: {err}",
                    request.method,
                    request.target
                );
                return;
            }
        }
    }
}

/// Closes our side gracefully: reading a little of whatever the client still
/// sends avoids a TCP reset that could destroy our last response in flight.
fn linger_close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 4096];
    let mut budget = 64 * 1024;
    let mut reader = stream;
    while budget > 0 {
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => budget -= n.min(budget),
        }
    }
}

/// Reads one line ending in LF (CR LF accepted), charging it to `budget`.
/// `Ok(None)` means the client closed the connection before sending anything.
fn read_line<R: BufRead>(
    reader: &mut R,
    budget: &mut u64,
) -> Result<Option<Vec<u8>>, RequestError> {
    let mut line = Vec::new();
    let n = Read::take(&mut *reader, *budget)
        .read_until(b'\n', &mut line)
        .map_err(RequestError::Io)?;
    *budget -= n as u64;
    if line.last() != Some(&b'\n') {
        return if *budget == 0 {
            Err(RequestError::Malformed("request head too large"))
        } else if n == 0 {
            Ok(None)
        } else {
            Err(RequestError::Io(io::ErrorKind::UnexpectedEof.into()))
        };
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Reads a request head. `Ok(None)`: the connection ended or idled out
/// cleanly between requests.
fn read_request<R: BufRead>(reader: &mut R) -> Result<Option<Request>, RequestError> {
    let mut budget = MAX_HEAD_BYTES;
    let mut blank_lines = 0;
    let first = loop {
        match read_line(reader, &mut budget) {
            Ok(None) => return Ok(None),
            Err(RequestError::Io(err)) if budget == MAX_HEAD_BYTES && is_timeout(&err) => {
                return Ok(None);
            }
            Err(err) => return Err(err),
            // Tolerate stray CRLFs between requests, as RFC 9112 suggests.
            Ok(Some(line)) if line.is_empty() && blank_lines < 4 => blank_lines += 1,
            Ok(Some(line)) => break line,
        }
    };
    let line = String::from_utf8(first)
        .map_err(|_| RequestError::Malformed("request line is not UTF-8"))?;
    let mut parts = line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) => (m, t, v),
        _ => {
            return Err(RequestError::Malformed(
                "request line is not METHOD TARGET VERSION",
            ))
        }
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(RequestError::Malformed("invalid method"));
    }
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RequestError::Malformed("invalid request target"));
    }
    let http10 = match version.strip_prefix("HTTP/1.") {
        Some(minor) if minor.len() == 1 && minor.as_bytes()[0].is_ascii_digit() => minor == "0",
        _ => return Err(RequestError::Malformed("unsupported HTTP version")),
    };

    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut budget)?
            .ok_or(RequestError::Io(io::ErrorKind::UnexpectedEof.into()))?;
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(RequestError::Malformed("too many header fields"));
        }
        if matches!(line[0], b' ' | b'\t') {
            return Err(RequestError::Malformed("obsolete header line folding"));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(RequestError::Malformed("header field without ':'"))?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(RequestError::Malformed("invalid header field name"));
        }
        let value = String::from_utf8_lossy(value);
        headers.push((
            String::from_utf8_lossy(name).to_ascii_lowercase(),
            value.trim_matches([' ', '\t']).to_owned(),
        ));
    }
    Ok(Some(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        http10,
        headers,
    }))
}

/// Answers one request. `Ok(true)` keeps the connection for the next one.
fn respond(request: &Request, out: &mut &TcpStream, shared: &Shared) -> io::Result<bool> {
    let http10 = request.http10;
    // We never read request bodies; if one was sent, the connection cannot be
    // reused because its bytes would be parsed as the next request.
    let mut lengths = request
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| {
            v.parse::<u64>()
                .ok()
                .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
        });
    let first_length = lengths.next();
    let has_body = match first_length {
        None => false,
        Some(Some(len)) if lengths.all(|other| other == Some(len)) => len > 0,
        Some(_) => {
            send_text(out, 400, false, http10, false, None)?;
            return Ok(false);
        }
    };
    let has_body = has_body || request.header("transfer-encoding").is_some();
    let keep_alive = request.wants_keep_alive() && !has_body;

    let head_only = match request.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let allow = Some(("Allow", "GET, HEAD"));
            send_text(out, 405, keep_alive, http10, false, allow)?;
            return Ok(keep_alive);
        }
    };

    let path = match resolve_target(&request.target, shared) {
        Ok(Some(path)) => path,
        Ok(None) => {
            send_text(out, 404, keep_alive, http10, head_only, None)?;
            return Ok(keep_alive);
        }
        Err(reason) => {
            debug_log!("bad request target {:?}: {reason}", request.target);
            send_text(out, 400, false, http10, head_only, None)?;
            return Ok(false);
        }
    };
    let (mut file, total) = match open_regular(&path) {
        Ok(opened) => opened,
        Err(err) => {
            if err.kind() != io::ErrorKind::NotFound {
                debug_log!("cannot open {}: {err}", path.display());
            }
            send_text(out, 404, keep_alive, http10, head_only, None)?;
            return Ok(keep_alive);
        }
    };

    // We send no validators, so an If-Range can never match: serve it all.
    let range = match (request.header("range"), request.header("if-range")) {
        (Some(value), None) => parse_range(value, total),
        _ => RangeOutcome::Full,
    };
    let (status, start, length, content_range) = match range {
        RangeOutcome::Full => (200, 0, total, None),
        RangeOutcome::Partial { start, end } => (
            206,
            start,
            end - start + 1,
            Some(format!("bytes {start}-{end}/{total}")),
        ),
        RangeOutcome::Unsatisfiable => {
            let head = Head {
                status: 416,
                content_type: TEXT_PLAIN,
                content_length: 0,
                content_range: Some(format!("bytes */{total}")),
                extra: None,
                keep_alive,
                http10,
            };
            head.write_to(out)?;
            return Ok(keep_alive);
        }
    };
    let head = Head {
        status,
        content_type: content_type_for(&path),
        content_length: length,
        content_range,
        extra: None,
        keep_alive,
        http10,
    };
    head.write_to(out)?;
    if !head_only {
        copy_range(&mut file, start, length, out)?;
    }
    Ok(keep_alive)
}

/// Maps `/TOKEN/KEY` to a published file. `Ok(None)` covers both a wrong
/// token and an unknown key, so responses never reveal which was wrong.
/// `Err` is a target we cannot parse at all (answered with 400).
fn resolve_target(target: &str, shared: &Shared) -> Result<Option<PathBuf>, &'static str> {
    // Absolute form ("http://host/path") is legal in requests; drop the authority.
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    if !path.starts_with('/') {
        return Err("request target is not an absolute path");
    }
    let path = path.find(['?', '#']).map_or(path, |i| &path[..i]);
    let decoded = percent_decode(path).ok_or("invalid percent-encoding")?;
    let Some((token, key)) = decoded[1..].split_once('/') else {
        return Ok(None);
    };
    if !constant_time_eq(token.as_bytes(), shared.token.as_bytes()) {
        return Ok(None);
    }
    Ok(shared
        .files
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(key)
        .cloned())
}

/// Decodes `%XX` escapes; `None` for a broken escape or non-UTF-8 result.
fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Token comparison whose time does not depend on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Opens a published path, refusing directories and other non-files.
fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "not a regular file",
        ));
    }
    Ok((file, meta.len()))
}

#[derive(Debug, PartialEq, Eq)]
enum RangeOutcome {
    /// No usable range: serve the whole file with 200.
    Full,
    /// Inclusive byte range within the file.
    Partial {
        start: u64,
        end: u64,
    },
    Unsatisfiable,
}

/// Interprets a `Range` header for a file of `total` bytes. Syntax we do not
/// handle (other units, several ranges, garbage) is ignored and the whole
/// file is served, which RFC 9110 permits.
fn parse_range(value: &str, total: u64) -> RangeOutcome {
    let Some((unit, set)) = value.split_once('=') else {
        return RangeOutcome::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeOutcome::Full;
    }
    let mut specs = set.split(',').map(str::trim).filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeOutcome::Full;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeOutcome::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // "-n": the last n bytes.
        let Some(n) = parse_digits(last) else {
            return RangeOutcome::Full;
        };
        if n == 0 || total == 0 {
            return RangeOutcome::Unsatisfiable;
        }
        return RangeOutcome::Partial {
            start: total - n.min(total),
            end: total - 1,
        };
    }
    let Some(start) = parse_digits(first) else {
        return RangeOutcome::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match parse_digits(last) {
            Some(end) => end,
            None => return RangeOutcome::Full,
        }
    };
    if end < start {
        return RangeOutcome::Full;
    }
    if start >= total {
        return RangeOutcome::Unsatisfiable;
    }
    RangeOutcome::Partial {
        start,
        end: end.min(total - 1),
    }
}

/// Digits only (no sign, no spaces); values past `u64::MAX` saturate, which
/// is still beyond any file.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(u64::MAX))
}

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// The media element needs a correct type to pick a demuxer.
fn content_type_for(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("mp4" | "m4v") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("webm") => "video/webm",
        Some("mkv") => "video/x-matroska",
        Some("wav") => "audio/wav",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// A response head; every response carries the same base headers.
struct Head {
    status: u16,
    content_type: &'static str,
    content_length: u64,
    content_range: Option<String>,
    extra: Option<(&'static str, &'static str)>,
    keep_alive: bool,
    http10: bool,
}

impl Head {
    fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        use std::fmt::Write as _;
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nDate: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Accept-Ranges: bytes\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
            self.status,
            reason_phrase(self.status),
            http_date(SystemTime::now()),
            self.content_type,
            self.content_length,
        );
        if let Some(range) = &self.content_range {
            let _ = write!(head, "Content-Range: {range}\r\n");
        }
        if let Some((name, value)) = self.extra {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        if !self.keep_alive {
            head.push_str("Connection: close\r\n");
        } else if self.http10 {
            head.push_str("Connection: keep-alive\r\n");
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())
    }
}

/// Small plain-text response for errors; `head_only` omits the body.
fn send_text(
    out: &mut impl Write,
    status: u16,
    keep_alive: bool,
    http10: bool,
    head_only: bool,
    extra: Option<(&'static str, &'static str)>,
) -> io::Result<()> {
    let body = format!("{}\n", reason_phrase(status));
    let head = Head {
        status,
        content_type: TEXT_PLAIN,
        content_length: body.len() as u64,
        content_range: None,
        extra,
        keep_alive,
        http10,
    };
    head.write_to(out)?;
    if !head_only {
        out.write_all(body.as_bytes())?;
    }
    Ok(())
}

/// Streams `length` bytes from `start` in fixed chunks. A file that shrank
/// under us is an error: the promised Content-Length can no longer be met,
/// so the caller closes the connection.
fn copy_range(file: &mut File, start: u64, length: u64, out: &mut impl Write) -> io::Result<()> {
    file.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; CHUNK_SIZE];
    let mut left = length;
    while left > 0 {
        let want = usize::try_from(left).map_or(CHUNK_SIZE, |l| l.min(CHUNK_SIZE));
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being served",
                ))
            }
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), which HTTP servers with a
/// clock are required to send in `Date`.
fn http_date(now: SystemTime) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut days = secs / 86_400;
    let in_day = secs % 86_400;
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[(days % 7) as usize];
    let is_leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let mut year = 1970;
    loop {
        let year_len = if is_leap(year) { 366 } else { 365 };
        if days < year_len {
            break;
        }
        days -= year_len;
        year += 1;
    }
    let mut month = 0;
    loop {
        let month_len = match month {
            1 if is_leap(year) => 29,
            1 => 28,
            3 | 5 | 8 | 10 => 30,
            _ => 31,
        };
        if days < month_len {
            break;
        }
        days -= month_len;
        month += 1;
    }
    format!(
        "{weekday}, {:02} {} {year} {:02}:{:02}:{:02} GMT",
        days + 1,
        MONTHS[month],
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::sync::atomic::AtomicU32;
    use std::time::Instant;

    /// A scratch directory removed on drop (std only, no tempfile crate).
    struct TestDir(PathBuf);

    impl TestDir {
        fn new() -> TestDir {
            static COUNTER: AtomicU32 = AtomicU32::new(0);
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let dir = std::env::temp_dir().join(format!(
                "video-server-test-{}-{}",
                std::process::id(),
                n
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("create test dir");
            TestDir(dir)
        }

        fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            fs::write(&path, bytes).expect("write test file");
            path
        }

        /// A sparse file of `len` bytes with `marks` written at offsets;
        /// returns its path and the expected content.
        fn sparse(&self, name: &str, len: usize, marks: &[(usize, &[u8])]) -> (PathBuf, Vec<u8>) {
            let path = self.0.join(name);
            let mut file = File::create(&path).expect("create sparse file");
            file.set_len(len as u64).expect("set_len");
            let mut expected = vec![0u8; len];
            for &(offset, bytes) in marks {
                file.seek(SeekFrom::Start(offset as u64)).expect("seek");
                file.write_all(bytes).expect("write mark");
                expected[offset..offset + bytes.len()].copy_from_slice(bytes);
            }
            (path, expected)
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Content where a shifted offset is always visible.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i % 251) ^ (i / 251 % 256)) as u8)
            .collect()
    }

    #[derive(Debug)]
    struct Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Response {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// A raw HTTP client over one TCP connection.
    struct Client {
        reader: BufReader<TcpStream>,
    }

    impl Client {
        fn connect(port: u16) -> Client {
            let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("set timeout");
            Client {
                reader: BufReader::new(stream),
            }
        }

        fn send(&mut self, raw: &str) {
            self.reader
                .get_mut()
                .write_all(raw.as_bytes())
                .expect("send request");
        }

        fn read_response(&mut self, head_only: bool) -> Response {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("status line");
            let mut parts = line.trim_end().splitn(3, ' ');
            assert_eq!(parts.next(), Some("HTTP/1.1"), "status line {line:?}");
            let status = parts
                .next()
                .and_then(|s| s.parse().ok())
                .expect("status code");
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                self.reader.read_line(&mut line).expect("header line");
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').expect("header colon");
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
            let mut response = Response {
                status,
                headers,
                body: Vec::new(),
            };
            if !head_only {
                let len: usize = response
                    .header("Content-Length")
                    .and_then(|v| v.parse().ok())
                    .expect("Content-Length");
                response.body = vec![0; len];
                self.reader
                    .read_exact(&mut response.body)
                    .expect("read body");
            }
            response
        }

        fn roundtrip(&mut self, raw: &str) -> Response {
            self.send(raw);
            self.read_response(raw.starts_with("HEAD "))
        }

        /// True when the server has closed the connection (EOF or reset).
        fn closed(&mut self) -> bool {
            let mut byte = [0u8; 1];
            match self.reader.read(&mut byte) {
                Ok(0) => true,
                Ok(_) => false,
                Err(err) => !is_timeout(&err),
            }
        }
    }

    fn get_raw(port: u16, method: &str, target: &str, extra: &str) -> Response {
        let mut client = Client::connect(port);
        client.roundtrip(&format!(
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Connection: close\r\n\r\n"
        ))
    }

    fn get(port: u16, target: &str, extra: &str) -> Response {
        get_raw(port, "GET", target, extra)
    }

    fn raw_exchange(port: u16, raw: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.write_all(raw).expect("write");
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        out
    }

    fn status_of(raw: &[u8]) -> u16 {
        let text = String::from_utf8_lossy(raw);
        text.split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {text:?}"))
    }

    /// Path part of a URL returned by publish, e.g. "/TOKEN/job/video".
    fn target_of(url: &str) -> &str {
        let rest = url.strip_prefix("http://127.0.0.1:").expect("url prefix");
        &rest[rest.find('/').expect("path")..]
    }

    struct Fixture {
        server: VideoServer,
        _dir: TestDir,
        content: Vec<u8>,
        target: String,
    }

    const CLIP_LEN: usize = 300_000;

    fn fixture() -> Fixture {
        let dir = TestDir::new();
        let content = pattern(CLIP_LEN);
        let path = dir.write("clip.mp4", &content);
        let server = VideoServer::start().expect("start server");
        let url = server.publish("job-1/video", path).expect("publish");
        Fixture {
            target: target_of(&url).to_owned(),
            server,
            _dir: dir,
            content,
        }
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn server_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<VideoServer>();
    }

    #[test]
    fn publish_returns_url_with_port_and_token() {
        let f = fixture();
        let port = f.server.port();
        let url = f.server.url_for("job-1/video").expect("published");
        let token = &f.server.shared.token;
        assert_eq!(url, format!("http://127.0.0.1:{port}/{token}/job-1/video"));
        assert_eq!(token.len(), 32);
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(f.server.url_for("job-1/other"), None);
        let other = VideoServer::start().expect("second server");
        assert_ne!(other.shared.token, *token, "tokens must differ per run");
    }

    #[test]
    fn full_get_returns_identical_bytes_and_headers() {
        let f = fixture();
        let r = get(f.server.port(), &f.target, "");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, f.content);
        assert_eq!(r.header("Content-Length"), Some("300000"));
        assert_eq!(r.header("Content-Type"), Some("video/mp4"));
        assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
        assert_eq!(r.header("Cache-Control"), Some("no-store"));
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(r.header("Date").is_some_and(|d| d.ends_with(" GMT")));
        assert_eq!(r.header("Content-Range"), None);
        assert_eq!(r.header("Access-Control-Allow-Origin"), None);
    }

    #[test]
    fn head_sends_headers_without_body() {
        let f = fixture();
        let mut c = Client::connect(f.server.port());
        let r = c.roundtrip(&format!("HEAD {} HTTP/1.1\r\nHost: x\r\n\r\n", f.target));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Length"), Some("300000"));
        assert_eq!(r.header("Content-Type"), Some("video/mp4"));
        assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
        // If HEAD had sent a body, this would read body bytes, not a status line.
        let r = c.roundtrip(&format!(
            "HEAD {} HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\n\r\n",
            f.target
        ));
        assert_eq!(r.status, 206);
        assert_eq!(r.header("Content-Length"), Some("10"));
        assert_eq!(r.header("Content-Range"), Some("bytes 10-19/300000"));
        let r = c.roundtrip(&format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", f.target));
        assert_eq!(r.status, 200);
        assert_eq!(r.body, f.content);
    }

    #[test]
    fn range_first_last() {
        let f = fixture();
        let r = get(f.server.port(), &f.target, "Range: bytes=100-65636\r\n");
        assert_eq!(r.status, 206);
        assert_eq!(r.body, &f.content[100..=65636]);
        assert_eq!(r.header("Content-Length"), Some("65537"));
        assert_eq!(r.header("Content-Range"), Some("bytes 100-65636/300000"));
        assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
        assert_eq!(r.header("Content-Type"), Some("video/mp4"));

        let r = get(f.server.port(), &f.target, "Range: bytes=0-0\r\n");
        assert_eq!(r.status, 206);
        assert_eq!(r.body, &f.content[..1]);
        assert_eq!(r.header("Content-Range"), Some("bytes 0-0/300000"));

        // An end past the file is clamped to the last byte.
        let r = get(f.server.port(), &f.target, "Range: bytes=299990-999999\r\n");
        assert_eq!(r.status, 206);
        assert_eq!(r.body, &f.content[299_990..]);
        assert_eq!(
            r.header("Content-Range"),
            Some("bytes 299990-299999/300000")
        );
    }

    #[test]
    fn range_open_ended() {
        let f = fixture();
        let r = get(f.server.port(), &f.target, "Range: bytes=123456-\r\n");
        assert_eq!(r.status, 206);
        assert_eq!(r.body, &f.content[123_456..]);
        assert_eq!(r.header("Content-Length"), Some("176544"));
        assert_eq!(
            r.header("Content-Range"),
            Some("bytes 123456-299999/300000")
        );
        // WebKit's first request is usually exactly this.
        let r = get(f.server.port(), &f.target, "Range: bytes=0-\r\n");
        assert_eq!(r.status, 206);
        assert_eq!(r.body, f.content);
        assert_eq!(r.header("Content-Range"), Some("bytes 0-299999/300000"));
    }

    #[test]
    fn range_suffix() {
        let f = fixture();
        let r = get(f.server.port(), &f.target, "Range: bytes=-500\r\n");
        assert_eq!(r.status, 206);
        assert_eq!(r.body, &f.content[CLIP_LEN - 500..]);
        assert_eq!(r.header("Content-Length"), Some("500"));
        assert_eq!(
            r.header("Content-Range"),
            Some("bytes 299500-299999/300000")
        );
        // A suffix longer than the file means the whole file.
        let r = get(f.server.port(), &f.target, "Range: bytes=-9999999\r\n");
        assert_eq!(r.status, 206);
        assert_eq!(r.body, f.content);
        assert_eq!(r.header("Content-Range"), Some("bytes 0-299999/300000"));
    }

    #[test]
    fn unsatisfiable_range_is_416() {
        let f = fixture();
        for range in ["bytes=300000-", "bytes=400000-500000", "bytes=-0"] {
            let r = get(f.server.port(), &f.target, &format!("Range: {range}\r\n"));
            assert_eq!(r.status, 416, "{range}");
            assert_eq!(r.header("Content-Range"), Some("bytes */300000"), "{range}");
            assert_eq!(r.header("Content-Length"), Some("0"), "{range}");
            assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
        }
    }

    #[test]
    fn multiple_invalid_or_conditional_ranges_serve_full_file() {
        let f = fixture();
        for extra in [
            "Range: bytes=0-9, 20-29\r\n",
            "Range: bytes=20-10\r\n",
            "Range: items=0-9\r\n",
            "Range: bytes=abc\r\n",
            "Range: bytes=0-9\r\nIf-Range: \"etag\"\r\n",
        ] {
            let r = get(f.server.port(), &f.target, extra);
            assert_eq!(r.status, 200, "{extra}");
            assert_eq!(r.body, f.content, "{extra}");
            assert_eq!(r.header("Content-Range"), None);
        }
    }

    #[test]
    fn wrong_token_and_unknown_key_are_identical_404s() {
        let f = fixture();
        let port = f.server.port();
        let token = f.server.shared.token.clone();
        let wrong_token = get(port, "/0123456789abcdef0123456789abcdef/job-1/video", "");
        let unknown_key = get(port, &format!("/{token}/job-2/video"), "");
        let no_key = get(port, &format!("/{token}"), "");
        let root = get(port, "/", "");
        for r in [&wrong_token, &unknown_key, &no_key, &root] {
            assert_eq!(r.status, 404);
            assert_eq!(r.body, wrong_token.body);
            assert_eq!(
                r.header("Content-Length"),
                wrong_token.header("Content-Length")
            );
            assert_eq!(r.header("Content-Type"), wrong_token.header("Content-Type"));
        }
        // Query strings do not change the lookup.
        let r = get(port, &format!("{}?t=1", f.target), "");
        assert_eq!(r.status, 200);
    }

    #[test]
    fn path_traversal_is_refused() {
        let f = fixture();
        let port = f.server.port();
        let token = f.server.shared.token.clone();
        for target in [
            format!("/{token}/../etc/passwd"),
            format!("/{token}/%2e%2e/%2e%2e/etc/passwd"),
            format!("/{token}/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"),
            format!("/{token}/job-1/../../../etc/passwd"),
            format!("/{token}/job-1/video/../video"),
            format!("/{token}//etc/passwd"),
            format!("/{token}/%2Fetc%2Fpasswd"),
            "/../../../../etc/passwd".to_owned(),
            "/%2e%2e/%2e%2e/etc/passwd".to_owned(),
        ] {
            let r = get(port, &target, "");
            assert_eq!(r.status, 404, "{target}");
            assert!(!r.body.starts_with(b"root:"), "{target}");
        }
        for target in [
            format!("/{token}/%zz/video"),
            format!("/{token}/job-1/video%"),
            format!("/{token}/%ff%fe"),
            "etc/passwd".to_owned(),
            "*".to_owned(),
        ] {
            let r = get(port, &target, "");
            assert_eq!(r.status, 400, "{target}");
            assert_eq!(r.header("Connection"), Some("close"));
        }
    }

    #[test]
    fn keep_alive_serves_several_requests_on_one_connection() {
        let f = fixture();
        let mut c = Client::connect(f.server.port());
        let req = |range: &str| {
            format!(
                "GET {} HTTP/1.1\r\nHost: x\r\nRange: bytes={range}\r\n\r\n",
                f.target
            )
        };
        let r = c.roundtrip(&req("0-99"));
        assert_eq!(r.status, 206);
        assert_eq!(r.header("Connection"), None);
        assert_eq!(r.body, &f.content[..100]);
        let r = c.roundtrip(&req("200000-"));
        assert_eq!(r.status, 206);
        assert_eq!(r.body, &f.content[200_000..]);
        // Pipelined requests in one write are answered in order.
        c.send(&format!("{}{}", req("5-9"), req("-3")));
        assert_eq!(c.read_response(false).body, &f.content[5..10]);
        assert_eq!(c.read_response(false).body, &f.content[CLIP_LEN - 3..]);
        // Errors keep the connection too.
        let r = c.roundtrip("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.status, 404);
        // Connection: close is honoured.
        let r = c.roundtrip(&format!(
            "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            f.target
        ));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(c.closed(), "server must close after Connection: close");
    }

    #[test]
    fn http10_closes_unless_keep_alive_requested() {
        let f = fixture();
        let mut c = Client::connect(f.server.port());
        let r = c.roundtrip(&format!(
            "GET {} HTTP/1.0\r\nConnection: keep-alive\r\nRange: bytes=0-3\r\n\r\n",
            f.target
        ));
        assert_eq!(r.status, 206);
        assert_eq!(r.header("Connection"), Some("keep-alive"));
        let r = c.roundtrip(&format!(
            "GET {} HTTP/1.0\r\nRange: bytes=0-3\r\n\r\n",
            f.target
        ));
        assert_eq!(r.status, 206);
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(c.closed());
    }

    #[test]
    fn client_disconnect_mid_body_leaves_server_working() {
        let dir = TestDir::new();
        let len = 48 * 1024 * 1024; // more than loopback socket buffers hold
        let (path, expected) = dir.sparse("big.webm", len, &[(len - 4, b"tail")]);
        let server = VideoServer::start().expect("start");
        let url = server.publish("job/big", path).expect("publish");
        let target = target_of(&url).to_owned();
        let port = server.port();
        for _ in 0..3 {
            let mut c = Client::connect(port);
            c.send(&format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
            let mut some = [0u8; 4096];
            c.reader.read_exact(&mut some).expect("start of response");
            drop(c);
        }
        let r = get(port, &target, "Range: bytes=-4\r\n");
        assert_eq!(r.status, 206);
        assert_eq!(r.body, &expected[len - 4..]);
        assert_eq!(r.header("Content-Type"), Some("video/webm"));
        // All connection threads finished rather than hanging or panicking.
        wait_until("connection threads to exit", || {
            server.shared.active.load(Ordering::SeqCst) == 0
        });
    }

    #[test]
    fn other_methods_get_405_with_allow() {
        let f = fixture();
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "get"] {
            let r = get_raw(f.server.port(), method, &f.target, "");
            assert_eq!(r.status, 405, "{method}");
            assert_eq!(r.header("Allow"), Some("GET, HEAD"), "{method}");
        }
        // A request body is never read, so the connection is closed after it.
        let mut c = Client::connect(f.server.port());
        let r = c.roundtrip(&format!(
            "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            f.target
        ));
        assert_eq!(r.status, 405);
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(c.closed());
        // Without a body, keep-alive survives a 405.
        let mut c = Client::connect(f.server.port());
        let r = c.roundtrip(&format!("DELETE {} HTTP/1.1\r\nHost: x\r\n\r\n", f.target));
        assert_eq!(r.status, 405);
        let r = c.roundtrip(&format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", f.target));
        assert_eq!(r.status, 200);
    }

    #[test]
    fn malformed_requests_get_400() {
        let f = fixture();
        let port = f.server.port();
        let target = f.target.clone();
        let long_header = format!("GET {target} HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        let cases: Vec<Vec<u8>> = vec![
            b"garbage\r\n\r\n".to_vec(),
            format!("GET {target}\r\n\r\n").into_bytes(),
            format!("GET {target} HTTP/2.0\r\n\r\n").into_bytes(),
            format!("GET  {target} HTTP/1.1\r\n\r\n").into_bytes(),
            format!("GET {target} HTTP/1.1\r\nNoColon\r\n\r\n").into_bytes(),
            format!("GET {target} HTTP/1.1\r\nBad Name: x\r\n\r\n").into_bytes(),
            format!("GET {target} HTTP/1.1\r\nX: a\r\n folded\r\n\r\n").into_bytes(),
            format!("GET {target} HTTP/1.1\r\nContent-Length: x\r\n\r\n").into_bytes(),
            format!("GET {target} HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
                .into_bytes(),
            b"GET /\xff HTTP/1.1\r\n\r\n".to_vec(),
            long_header.into_bytes(),
        ];
        for raw in cases {
            let reply = raw_exchange(port, &raw);
            assert_eq!(
                status_of(&reply),
                400,
                "{:?}",
                String::from_utf8_lossy(&raw)
            );
            assert!(String::from_utf8_lossy(&reply).contains("Connection: close\r\n"));
        }
        // The server is unaffected.
        assert_eq!(get(port, &target, "").status, 200);
    }

    #[test]
    fn lenient_parsing_accepts_bare_lf_and_absolute_form() {
        let f = fixture();
        let port = f.server.port();
        let reply = raw_exchange(
            port,
            format!(
                "\r\nGET {} HTTP/1.1\nRange: bytes=0-1\nConnection: close\n\n",
                f.target
            )
            .as_bytes(),
        );
        assert_eq!(status_of(&reply), 206);
        let r = get(port, &format!("http://127.0.0.1:{port}{}", f.target), "");
        assert_eq!(r.status, 200);
    }

    #[test]
    fn key_validation() {
        let server = VideoServer::start().expect("start");
        for good in [
            "a",
            "job-1/video",
            "0b5e-uuid/video.mp4",
            "A.B_C-d/e/f",
            "...a",
        ] {
            assert!(server.publish(good, "/nonexistent").is_ok(), "{good}");
        }
        let long = "a".repeat(513);
        for (bad, reason) in [
            ("", "empty"),
            ("/job/video", "empty segment"),
            ("job/video/", "empty segment"),
            ("job//video", "empty segment"),
            ("..", "'..'"),
            ("job/../video", "'..'"),
            ("job/./video", "'.'"),
            ("job/vi deo", "only"),
            ("job/vi%2fdeo", "only"),
            ("job\\video", "only"),
            ("job/vidéo", "only"),
            ("job?x", "only"),
            (long.as_str(), "longer"),
        ] {
            let err = server.publish(bad, "/etc/passwd").expect_err(bad);
            assert_eq!(err.key(), bad);
            assert!(err.reason().contains(reason), "{bad}: {}", err.reason());
            assert!(err.to_string().starts_with("invalid video key"), "{err}");
            assert_eq!(server.url_for(bad), None);
        }
    }

    #[test]
    fn unpublish_prefix_removes_whole_segments_only() {
        let dir = TestDir::new();
        let path = dir.write("v.mp4", b"data");
        let server = VideoServer::start().expect("start");
        let port = server.port();
        let url = server.publish("job1/video", &path).expect("publish");
        server
            .publish("job1/preview/frame.png", &path)
            .expect("publish");
        server.publish("job10/video", &path).expect("publish");
        assert_eq!(get(port, target_of(&url), "").status, 200);
        assert_eq!(server.unpublish_prefix(""), 0);
        assert_eq!(server.unpublish_prefix("job1/"), 2);
        assert_eq!(server.url_for("job1/video"), None);
        assert_eq!(server.url_for("job1/preview/frame.png"), None);
        assert!(server.url_for("job10/video").is_some());
        assert_eq!(get(port, target_of(&url), "").status, 404);
        assert!(server.unpublish("job10/video"));
        assert!(!server.unpublish("job10/video"));
    }

    #[test]
    fn vanished_or_non_file_paths_are_404() {
        let dir = TestDir::new();
        let path = dir.write("gone.mp4", b"soon gone");
        let server = VideoServer::start().expect("start");
        let port = server.port();
        let url = server.publish("job/video", &path).expect("publish");
        assert_eq!(get(port, target_of(&url), "").status, 200);
        fs::remove_file(&path).expect("remove");
        let r = get(port, target_of(&url), "");
        assert_eq!(r.status, 404);
        assert_eq!(get_raw(port, "HEAD", target_of(&url), "").status, 404);
        let url = server.publish("job/dir", &dir.0).expect("publish dir");
        assert_eq!(get(port, target_of(&url), "").status, 404);
        // A file published before it exists becomes servable once written.
        let later = dir.0.join("later.wav");
        let url = server.publish("job/later", &later).expect("publish");
        assert_eq!(get(port, target_of(&url), "").status, 404);
        fs::write(&later, b"RIFF").expect("write");
        let r = get(port, target_of(&url), "");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"RIFF"[..]));
        assert_eq!(r.header("Content-Type"), Some("audio/wav"));
    }

    #[test]
    fn empty_file_serves_empty_body_and_rejects_ranges() {
        let dir = TestDir::new();
        let path = dir.write("empty.mov", b"");
        let server = VideoServer::start().expect("start");
        let url = server.publish("job/empty", path).expect("publish");
        let r = get(server.port(), target_of(&url), "");
        assert_eq!((r.status, r.body.len()), (200, 0));
        assert_eq!(r.header("Content-Type"), Some("video/quicktime"));
        let r = get(server.port(), target_of(&url), "Range: bytes=0-\r\n");
        assert_eq!(r.status, 416);
        assert_eq!(r.header("Content-Range"), Some("bytes */0"));
    }

    #[test]
    fn large_sparse_file_is_served_by_ranges() {
        let dir = TestDir::new();
        let len = 20 * 1024 * 1024;
        let marks: [(usize, &[u8]); 5] = [
            (0, b"START"),
            (CHUNK_SIZE - 2, b"edge"),
            (10 * 1024 * 1024 + 7, b"middle"),
            (15_000_000, &[0xff; 300]),
            (len - 3, b"END"),
        ];
        let (path, expected) = dir.sparse("big.mkv", len, &marks);
        let server = VideoServer::start().expect("start");
        let url = server.publish("job/big", path).expect("publish");
        let target = target_of(&url).to_owned();
        let mut c = Client::connect(server.port());
        let total = len as u64;
        for (range, start, end) in [
            ("0-65535".to_owned(), 0, 65_535),
            ("65530-131075".to_owned(), 65_530, 131_075),
            ("10485760-10485799".to_owned(), 10_485_760, 10_485_799),
            ("14999990-".to_owned(), 14_999_990, total - 1),
            ("-1000".to_owned(), total - 1000, total - 1),
            (format!("1-{}", total + 10), 1, total - 1),
        ] {
            let r = c.roundtrip(&format!(
                "GET {target} HTTP/1.1\r\nHost: x\r\nRange: bytes={range}\r\n\r\n"
            ));
            assert_eq!(r.status, 206, "{range}");
            assert_eq!(
                r.header("Content-Range"),
                Some(format!("bytes {start}-{end}/{total}").as_str())
            );
            assert_eq!(r.header("Content-Type"), Some("video/x-matroska"));
            assert!(r.body == expected[start as usize..=end as usize], "{range}");
        }
        let r = c.roundtrip(&format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(r.status, 200);
        assert!(r.body == expected, "full body differs");
    }

    #[test]
    fn connection_cap_answers_503() {
        let f = fixture();
        let port = f.server.port();
        let mut idle: Vec<TcpStream> = (0..MAX_CONNECTIONS)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
            .collect();
        wait_until("all connections admitted", || {
            f.server.shared.active.load(Ordering::SeqCst) == MAX_CONNECTIONS
        });
        let reply = raw_exchange(port, b"");
        assert_eq!(status_of(&reply), 503);
        idle.truncate(MAX_CONNECTIONS - 1);
        wait_until("a slot to free up", || {
            f.server.shared.active.load(Ordering::SeqCst) < MAX_CONNECTIONS
        });
        assert_eq!(get(port, &f.target, "").status, 200);
    }

    #[test]
    fn stop_closes_port_and_open_connections() {
        let f = fixture();
        let port = f.server.port();
        let mut c = Client::connect(port);
        let r = c.roundtrip(&format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", f.target));
        assert_eq!(r.status, 200);
        f.server.stop();
        assert!(c.closed(), "keep-alive connection must be closed by stop()");
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port must refuse after stop()"
        );
        f.server.stop(); // idempotent
        drop(f); // and drop after stop does not panic
    }

    #[test]
    fn drop_stops_server() {
        let server = VideoServer::start().expect("start");
        let port = server.port();
        drop(server);
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    #[test]
    fn parse_range_cases() {
        use RangeOutcome::*;
        let p = |start, end| Partial { start, end };
        assert_eq!(parse_range("bytes=0-9", 100), p(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), p(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), p(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), p(0, 99));
        assert_eq!(parse_range("BYTES = 5 - 6", 100), p(5, 6));
        assert_eq!(parse_range("bytes=5-6,", 100), p(5, 6));
        assert_eq!(
            parse_range("bytes=50-99999999999999999999999", 100),
            p(50, 99)
        );
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(
            parse_range("bytes=99999999999999999999999-", 100),
            Unsatisfiable
        );
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Unsatisfiable);
        for ignored in [
            "bytes=0-1,3-4",
            "bytes=5-4",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=0-1-2",
            "bits=0-1",
            "0-1",
        ] {
            assert_eq!(parse_range(ignored, 100), Full, "{ignored}");
        }
    }

    #[test]
    fn content_types_follow_extension() {
        for (name, ty) in [
            ("a.mp4", "video/mp4"),
            ("a.M4V", "video/mp4"),
            ("a.mov", "video/quicktime"),
            ("a.webm", "video/webm"),
            ("a.mkv", "video/x-matroska"),
            ("a.wav", "audio/wav"),
            ("a.png", "image/png"),
            ("a.txt", "application/octet-stream"),
            ("noext", "application/octet-stream"),
        ] {
            assert_eq!(content_type_for(Path::new(name)), ty, "{name}");
        }
    }

    #[test]
    fn http_date_formats_imf_fixdate() {
        let at = |secs| http_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(1_735_689_599), "Tue, 31 Dec 2024 23:59:59 GMT");
    }

    #[test]
    fn fallback_randomness_differs_between_calls() {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 1234));
        let (a, b) = (fallback_random(&addr), fallback_random(&addr));
        assert_ne!(a, b);
        assert_ne!(a[..8], a[8..]);
        assert_ne!(a, [0; 16]);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("/a%2Fb%2e").as_deref(), Some("/a/b."));
        assert_eq!(percent_decode("/plain").as_deref(), Some("/plain"));
        assert_eq!(percent_decode("/%"), None);
        assert_eq!(percent_decode("/%4"), None);
        assert_eq!(percent_decode("/%+1"), None);
        assert_eq!(percent_decode("/%ff"), None);
    }
}
