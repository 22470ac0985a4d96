//! Loopback HTTP server that streams a job's media to the webview, since WebKitGTK (the Linux
//! webview behind Tauri) will not play a `<video>` from a custom URL scheme. It listens on
//! `127.0.0.1` only, on a random port, and every URL carries a secret token made per run, so
//! neither other local programs nor web pages can guess a working URL. Only files registered
//! with [`VideoServer::publish`] are served, looked up by exact key, never by joining the
//! request path onto the filesystem. The HTTP (byte ranges for seeking, `HEAD`, conditional
//! requests, keep-alive) is axum with tower-http's `ServeFile`, on Tauri's tokio runtime.

use std::collections::HashMap;
use std::future::{pending, IntoFuture};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header::CACHE_CONTROL, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{routing::get, serve::Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower_http::services::ServeFile;

/// More simultaneous connections than a few media elements ever open: the cap stops a runaway
/// client from exhausting sockets. axum's server has no idle timeout; clients close their own.
const MAX_CONNECTIONS: usize = 32;
const MAX_KEY_LEN: usize = 512;

/// Debug level, target `video_server`: WebKit aborts range requests all the time while seeking.
macro_rules! debug_log {
    ($($arg:tt)*) => { tracing::debug!(target: "video_server", $($arg)*) };
}

/// A running server. Stops when dropped; safe to share (`Send + Sync`), e.g.
/// as Tauri managed state.
pub struct VideoServer {
    port: u16,
    table: Arc<Table>,
    /// Set to stop the server. Its receivers are the shutdown signal and the listener, so
    /// once it has none the port is closed.
    stop: watch::Sender<bool>,
}

/// Why a key was refused by [`VideoServer::publish`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid video key {key:?}: {reason}")]
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

impl VideoServer {
    /// Binds `127.0.0.1` on a random port and starts serving in the
    /// background. Nothing is reachable until something is published.
    pub fn start() -> io::Result<VideoServer> {
        // Bound here, so the caller gets the error; tokio adopts the socket inside its runtime.
        let bound = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        bound.set_nonblocking(true)?;
        let port = bound.local_addr()?.port();
        let runtime = tauri::async_runtime::handle();
        let _entered = runtime.inner().enter();
        let (stop, mut stopped) = watch::channel(false);
        let listener = Capped {
            listener: TcpListener::from_std(bound)?,
            slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            _stop: stop.subscribe(),
        };
        let table = Arc::new(Table {
            token: uuid::Uuid::new_v4().simple().to_string(),
            files: Mutex::default(),
        });
        // Every path goes to `serve`; methods other than GET and HEAD get 405.
        let app = get(serve).with_state(Arc::clone(&table));
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|&stop| stop).await;
        });
        runtime.spawn(server.into_future());
        Ok(VideoServer { port, table, stop })
    }

    /// The port the server listens on (random, chosen at start).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Makes `path` downloadable under `key` (e.g. `"<job-uuid>/video"`) and returns its URL,
    /// `http://127.0.0.1:PORT/TOKEN/KEY`. Publishing an existing key replaces its file. The
    /// file is opened per request, so it may be created or replaced later; a missing file is
    /// served as 404.
    ///
    /// Keys are one or more `/`-separated segments of `[A-Za-z0-9._-]`, with no empty, `.` or
    /// `..` segment, so the URL needs no escaping and no client-side path normalisation can
    /// change it.
    pub fn publish(&self, key: &str, path: impl Into<PathBuf>) -> Result<String, InvalidKey> {
        validate_key(key)?;
        self.table.files().insert(key.to_owned(), path.into());
        Ok(self.url(key))
    }

    /// The URL of a published key, or `None` if it is not published.
    pub fn url_for(&self, key: &str) -> Option<String> {
        let published = self.table.files().contains_key(key);
        published.then(|| self.url(key))
    }

    /// Removes one key; returns whether it was published.
    pub fn unpublish(&self, key: &str) -> bool {
        self.table.files().remove(key).is_some()
    }

    /// Removes every key equal to `prefix` or below it as whole segments (`"job1"` removes
    /// `"job1/video"` but not `"job10/video"`), e.g. when a job is deleted. A trailing `/` is
    /// ignored; an empty prefix removes nothing, so an empty job id cannot wipe everything.
    /// Returns how many keys were removed.
    pub fn unpublish_prefix(&self, prefix: &str) -> usize {
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() {
            return 0;
        }
        let mut files = self.table.files();
        let before = files.len();
        files.retain(|key, _| {
            let rest = key.strip_prefix(prefix);
            !rest.is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
        before - files.len()
    }

    /// Stops accepting and returns once the port is closed (graceful shutdown: idle
    /// connections close at once, responses in flight are finished). Idempotent; also run on
    /// drop.
    pub fn stop(&self) {
        self.stop.send_replace(true);
        // The listener goes within moments; the bound keeps Drop from hanging should the
        // runtime be wedged.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !self.stop.is_closed() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn url(&self, key: &str) -> String {
        format!("http://127.0.0.1:{}/{}/{key}", self.port, self.table.token)
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
    let segments = || key.split('/');
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/._-".contains(c);
    let reason = if key.is_empty() {
        "key is empty"
    } else if key.len() > MAX_KEY_LEN {
        "key is longer than 512 bytes"
    } else if segments().any(str::is_empty) {
        "empty segment (leading, trailing or double '/')"
    } else if segments().any(|s| s == "." || s == "..") {
        "'.' and '..' segments are not allowed"
    } else if !key.chars().all(allowed) {
        "only A-Z, a-z, 0-9, '.', '_' and '-' are allowed in segments"
    } else {
        return Ok(());
    };
    let key = key.to_owned();
    Err(InvalidKey { key, reason })
}

/// The run's token and the published files, shared with the request handler.
struct Table {
    token: String,
    files: Mutex<HashMap<String, PathBuf>>,
}

impl Table {
    /// A panic elsewhere cannot leave the map invalid, so poisoning is ignored.
    fn files(&self) -> MutexGuard<'_, HashMap<String, PathBuf>> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Maps `/TOKEN/KEY` to its key and file. The path is matched raw: keys
    /// never contain `%`, so no percent-encoded form can match.
    fn lookup(&self, path: &str) -> Option<(String, PathBuf)> {
        let (token, key) = path.strip_prefix('/')?.split_once('/')?;
        // Every byte is compared, so timing does not tell how much of a guess was right.
        let diff = (token.bytes().zip(self.token.bytes())).fold(0, |d, (a, b)| d | (a ^ b));
        if token.len() != self.token.len() || diff != 0 {
            return None;
        }
        Some((key.to_owned(), self.files().get(key)?.clone()))
    }
}

/// `GET`/`HEAD` of a published file. A wrong token and an unknown key get the
/// same 404, so responses never reveal which was wrong.
async fn serve(State(table): State<Arc<Table>>, request: Request) -> Response {
    let method = request.method().clone();
    let Some((key, path)) = table.lookup(request.uri().path()) else {
        debug_log!("{method} of an unknown token or key");
        return StatusCode::NOT_FOUND.into_response();
    };
    // ServeFile would open a directory and fail mid-body; it is simply absent.
    if !tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
        debug_log!("{method} {key}: {} is not a file", path.display());
        return StatusCode::NOT_FOUND.into_response();
    }
    let served = ServeFile::new(&path).try_call(request).await;
    let Ok(response) = served.inspect_err(|err| debug_log!("{method} {key}: {err}")) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    debug_log!("{method} {key}: {}", response.status());
    // The same URL serves a replaced file later: never reuse a stale copy.
    ([(CACHE_CONTROL, "no-store")], response).into_response()
}

/// The listening socket, admitting at most [`MAX_CONNECTIONS`] at a time.
struct Capped {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    /// Dropped with the listener, which tells `stop()` the port is closed.
    _stop: watch::Receiver<bool>,
}

impl Listener for Capped {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        // Taking a slot before accepting leaves extra clients waiting in the backlog.
        let Ok(_slot) = Arc::clone(&self.slots).acquire_owned().await else {
            return pending().await; // the semaphore is never closed
        };
        // axum's accept retries after errors (e.g. out of file descriptors).
        let (stream, addr) = Listener::accept(&mut self.listener).await;
        let _ = stream.set_nodelay(true);
        (Conn { stream, _slot }, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// An accepted connection and its slot, which frees when hyper drops the connection.
struct Conn {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
