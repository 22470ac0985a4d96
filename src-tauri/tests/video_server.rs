//! The loopback video server over real TCP, with raw HTTP/1.1 requests.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bgm_studio::video_server::VideoServer;

const CLIP_LEN: usize = 300_000;

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
        let mut found = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        found.next().map(|(_, v)| v.as_str())
    }
}

/// A raw HTTP client over one TCP connection.
struct Client(BufReader<TcpStream>);

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Client(BufReader::new(stream))
    }

    fn send(&mut self, raw: &str) {
        self.0
            .get_mut()
            .write_all(raw.as_bytes())
            .expect("send request");
    }

    fn read_response(&mut self, head_only: bool) -> Response {
        let mut line = String::new();
        self.0.read_line(&mut line).expect("status line");
        let status = line.split(' ').nth(1).and_then(|s| s.parse().ok());
        let status = status.unwrap_or_else(|| panic!("status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.0.read_line(&mut line).expect("header line");
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if !head_only {
            let len = response
                .header("Content-Length")
                .and_then(|v| v.parse().ok());
            response.body = vec![0; len.expect("Content-Length")];
            self.0.read_exact(&mut response.body).expect("read body");
        }
        response
    }

    fn roundtrip(&mut self, raw: &str) -> Response {
        self.send(raw);
        self.read_response(raw.starts_with("HEAD "))
    }

    /// True when the server has closed the connection (EOF or reset).
    fn closed(&mut self) -> bool {
        match self.0.read(&mut [0u8; 1]) {
            Ok(n) => n == 0,
            Err(err) => !matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        }
    }
}

fn request(method: &str, target: &str, extra: &str) -> String {
    format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n")
}

/// One request on a fresh connection.
fn get(port: u16, target: &str, extra: &str) -> Response {
    Client::connect(port).roundtrip(&request("GET", target, extra))
}

/// Path part of a URL returned by publish, e.g. "/TOKEN/job/video".
fn target_of(url: &str) -> &str {
    let rest = url.strip_prefix("http://127.0.0.1:").expect("url prefix");
    &rest[rest.find('/').expect("path")..]
}

struct Fixture {
    server: VideoServer,
    _dir: tempfile::TempDir,
    content: Vec<u8>,
    target: String,
    token: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let content = pattern(CLIP_LEN);
    let path = dir.path().join("clip.mp4");
    fs::write(&path, &content).expect("write clip");
    let server = VideoServer::start().expect("start server");
    let url = server.publish("job-1/video", path).expect("publish");
    let target = target_of(&url).to_owned();
    let token = target[1..33].to_owned();
    Fixture {
        server,
        _dir: dir,
        content,
        target,
        token,
    }
}

#[test]
fn publish_returns_url_with_port_and_secret_token() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<VideoServer>();
    let f = fixture();
    let (port, token) = (f.server.port(), &f.token);
    let url = f.server.url_for("job-1/video").expect("published");
    assert_eq!(url, format!("http://127.0.0.1:{port}/{token}/job-1/video"));
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(f.server.url_for("job-1/other"), None);
    let other = VideoServer::start().expect("second server");
    let other_url = other
        .publish("job-1/video", "/nonexistent")
        .expect("publish");
    assert!(
        !other_url.contains(token.as_str()),
        "tokens must differ per run"
    );
}

#[test]
fn full_get_and_head() {
    let f = fixture();
    let r = get(f.server.port(), &f.target, "");
    assert_eq!(r.status, 200);
    assert!(r.body == f.content);
    assert_eq!(r.header("Content-Length"), Some("300000"));
    assert_eq!(r.header("Content-Type"), Some("video/mp4"));
    assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert_eq!(r.header("Access-Control-Allow-Origin"), None);
    // On one connection: had HEAD sent a body, the next read would not find a status line.
    let mut c = Client::connect(f.server.port());
    let r = c.roundtrip(&request("HEAD", &f.target, ""));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), Some("300000"));
    assert_eq!(r.header("Content-Type"), Some("video/mp4"));
    let r = c.roundtrip(&request("HEAD", &f.target, "Range: bytes=10-19\r\n"));
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Range"), Some("bytes 10-19/300000"));
    let r = c.roundtrip(&request("GET", &f.target, ""));
    assert!(r.status == 200 && r.body == f.content);
}

#[test]
fn byte_ranges() {
    let f = fixture();
    let port = f.server.port();
    for (range, start, end) in [
        ("100-65636", 100, 65_636),
        ("0-0", 0, 0),
        ("299990-999999", 299_990, 299_999), // an end past the file is clamped
        ("123456-", 123_456, 299_999),
        ("0-", 0, 299_999), // WebKit's first request is usually this
        ("-500", 299_500, 299_999),
    ] {
        let r = get(port, &f.target, &format!("Range: bytes={range}\r\n"));
        assert_eq!(r.status, 206, "{range}");
        assert!(r.body == f.content[start..=end], "{range}");
        let expected = format!("bytes {start}-{end}/300000");
        assert_eq!(r.header("Content-Range"), Some(expected.as_str()));
        assert_eq!(r.header("Content-Type"), Some("video/mp4"));
    }
    for range in ["bytes=300000-", "bytes=400000-500000"] {
        let r = get(port, &f.target, &format!("Range: {range}\r\n"));
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(r.header("Content-Range"), Some("bytes */300000"), "{range}");
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let f = fixture();
    let mut c = Client::connect(f.server.port());
    let range = |r: &str| request("GET", &f.target, &format!("Range: bytes={r}\r\n"));
    assert!(c.roundtrip(&range("0-99")).body == f.content[..100]);
    assert!(c.roundtrip(&range("200000-")).body == f.content[200_000..]);
    // Pipelined requests in one write are answered in order.
    c.send(&format!("{}{}", range("5-9"), range("-3")));
    assert!(c.read_response(false).body == f.content[5..10]);
    assert!(c.read_response(false).body == f.content[CLIP_LEN - 3..]);
    // Errors keep the connection too.
    assert_eq!(c.roundtrip(&request("GET", "/nope", "")).status, 404);
    let r = c.roundtrip(&request("GET", &f.target, "Connection: close\r\n"));
    assert_eq!(r.status, 200);
    assert!(c.closed(), "server must close after Connection: close");
}

#[test]
fn wrong_token_unknown_key_and_traversal_are_404() {
    let f = fixture();
    let (port, token) = (f.server.port(), &f.token);
    let wrong = "0123456789abcdef0123456789abcdef";
    for target in [
        format!("/{wrong}/job-1/video"),
        format!("/{}/job-1/video", &token[..31]),
        format!("/{token}/job-2/video"),
        format!("/{token}/job-1"),
        format!("/{token}"),
        "/job-1/video".to_owned(),
        "/".to_owned(),
        format!("/{token}/../etc/passwd"),
        format!("/{token}/%2e%2e/%2e%2e/etc/passwd"),
        format!("/{token}/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"),
        format!("/{token}/job-1/../../../etc/passwd"),
        format!("/{token}/job-1/video/../video"),
        format!("/{token}/job-1%2Fvideo"),
        format!("/{token}//etc/passwd"),
        format!("/{token}/%2Fetc%2Fpasswd"),
        "/../../../../etc/passwd".to_owned(),
    ] {
        let r = get(port, &target, "");
        assert_eq!(r.status, 404, "{target}");
        assert!(r.body.is_empty(), "{target}");
    }
    // A query string does not change the lookup.
    assert_eq!(get(port, &format!("{}?t=1", f.target), "").status, 200);
}

#[test]
fn only_get_and_head_are_allowed() {
    let f = fixture();
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let r = Client::connect(f.server.port()).roundtrip(&request(method, &f.target, ""));
        assert_eq!(r.status, 405, "{method}");
        let allow = r.header("Allow").unwrap_or_default();
        assert!(
            allow.contains("GET") && allow.contains("HEAD"),
            "{method}: {allow}"
        );
    }
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
fn unpublish_and_prefix_remove_whole_segments_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("v.mp4");
    fs::write(&path, b"data").expect("write");
    let server = VideoServer::start().expect("start");
    let port = server.port();
    let url = server.publish("job1/video", &path).expect("publish");
    server
        .publish("job1/preview/frame.png", &path)
        .expect("publish");
    server.publish("job10/video", &path).expect("publish");
    server.publish("job1x", &path).expect("publish");
    assert_eq!(get(port, target_of(&url), "").status, 200);
    assert_eq!(server.unpublish_prefix(""), 0);
    assert_eq!(server.unpublish_prefix("/"), 0);
    assert_eq!(server.unpublish_prefix("job1/"), 2);
    assert_eq!(server.url_for("job1/video"), None);
    assert_eq!(server.url_for("job1/preview/frame.png"), None);
    assert!(server.url_for("job10/video").is_some() && server.url_for("job1x").is_some());
    assert_eq!(get(port, target_of(&url), "").status, 404);
    assert!(server.unpublish("job10/video"));
    assert!(!server.unpublish("job10/video"));
    assert_eq!(server.unpublish_prefix("job1x"), 1);
}

#[test]
fn files_are_opened_per_request() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("clip.webm");
    fs::write(&path, b"first").expect("write");
    let server = VideoServer::start().expect("start");
    let port = server.port();
    let url = server.publish("job/video", &path).expect("publish");
    let r = get(port, target_of(&url), "");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"first"[..]));
    assert_eq!(r.header("Content-Type"), Some("video/webm"));
    // Replaced in place, then atomically by rename: each request sees the current file.
    fs::write(&path, b"second, longer").expect("rewrite");
    assert_eq!(get(port, target_of(&url), "").body, b"second, longer");
    let next = dir.path().join("next.tmp");
    fs::write(&next, b"third").expect("write");
    fs::rename(&next, &path).expect("rename");
    assert_eq!(get(port, target_of(&url), "").body, b"third");
    fs::remove_file(&path).expect("remove");
    assert_eq!(get(port, target_of(&url), "").status, 404);
    let head = Client::connect(port).roundtrip(&request("HEAD", target_of(&url), ""));
    assert_eq!(head.status, 404);
    fs::write(&path, b"back").expect("write");
    assert_eq!(get(port, target_of(&url), "").body, b"back");
    // A directory is not a file to serve.
    let url = server.publish("job/dir", dir.path()).expect("publish dir");
    assert_eq!(get(port, target_of(&url), "").status, 404);
}

/// A sparse file of `len` bytes ending in "tail".
fn sparse(dir: &Path, len: u64) -> PathBuf {
    let path = dir.join("big.mkv");
    let mut file = File::create(&path).expect("create");
    file.set_len(len - 4).expect("set_len");
    std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)).expect("seek");
    file.write_all(b"tail").expect("write");
    path
}

#[test]
fn aborted_downloads_free_their_connection_slots() {
    let dir = tempfile::tempdir().expect("temp dir");
    // More than loopback socket buffers hold, so each response is cut off mid-body.
    let path = sparse(dir.path(), 48 << 20);
    let server = VideoServer::start().expect("start");
    let url = server.publish("job/big", path).expect("publish");
    let (port, target) = (server.port(), target_of(&url));
    // More aborts than the 32 connection slots: a leaked slot would stall this loop.
    for _ in 0..40 {
        let mut c = Client::connect(port);
        c.send(&request("GET", target, ""));
        c.0.read_exact(&mut [0u8; 4096]).expect("start of response");
    }
    let r = get(port, target, "Range: bytes=-4\r\n");
    assert_eq!((r.status, r.body.as_slice()), (206, &b"tail"[..]));
    assert_eq!(r.header("Content-Type"), Some("video/x-matroska"));
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let f = fixture();
    let port = f.server.port();
    let mut idle: Vec<TcpStream> = (0..32)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    let mut waiting = Client::connect(port);
    waiting
        .0
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    waiting.send(&request("GET", &f.target, "Range: bytes=0-9\r\n"));
    let err = waiting
        .0
        .read(&mut [0u8; 1])
        .expect_err("answered beyond the cap");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    idle.pop();
    waiting
        .0
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    assert_eq!(waiting.read_response(false).status, 206);
}

#[test]
fn stop_closes_port_and_idle_connections() {
    let f = fixture();
    let port = f.server.port();
    let mut c = Client::connect(port);
    assert_eq!(c.roundtrip(&request("GET", &f.target, "")).status, 200);
    f.server.stop();
    assert!(c.closed(), "keep-alive connection must be closed by stop()");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port must refuse"
    );
    f.server.stop(); // idempotent
    drop(f); // and dropping after stop is fine

    let server = VideoServer::start().expect("start");
    let port = server.port();
    drop(server);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}
