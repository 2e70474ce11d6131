//! `repere serve` as a process: start-up, readiness and the drain of
//! requests in flight on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc::{self, Receiver};

/// A `repere serve` child process and the lines of its log.
struct Server {
    child: Child,
    log: Receiver<String>,
    /// The GeoPackage layer store of this server alone.
    _state_dir: tempfile::TempDir,
}

impl Server {
    /// Starts `repere serve` on a free port of 127.0.0.1 with `manifest`.
    fn start(manifest: &std::path::Path) -> Server {
        Server::start_with_env(manifest, &[])
    }

    /// Starts `repere serve` as [`Server::start`] does, with the extra
    /// environment variables `env`.
    fn start_with_env(manifest: &std::path::Path, env: &[(&str, &str)]) -> Server {
        let state_dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_repere"))
            .args(["serve", "--listen", "127.0.0.1:0", "--manifest"])
            .arg(manifest)
            .arg("--state-dir")
            .arg(state_dir.path())
            .env("REPERE_LOG", "info,repere::http=debug")
            .envs(env.iter().copied())
            .env_remove("REPERE_CONFIG")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = forward_lines(child.stderr.take().unwrap());
        Server {
            child,
            log,
            _state_dir: state_dir,
        }
    }

    /// Waits for the first log line containing `part` and returns it.
    fn wait_for(&self, part: &str) -> String {
        for line in self.log.iter() {
            if line.contains(part) {
                return line;
            }
        }
        panic!("the server exited before logging {part:?}");
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {name} failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stderr: ChildStderr) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("server: {line}");
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Extracts the address from the `listening` log line, e.g. `listen=127.0.0.1:40123`.
fn listen_address(line: &str) -> String {
    let start = line.find("listen=").expect("the line names the address") + "listen=".len();
    line[start..].split_whitespace().next().unwrap().to_owned()
}

/// Returns the manifest of the default layers: real Laval and Montréal data.
fn data_manifest() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/layers.toml")
}

/// Sends one HTTP/1.1 request with `connection: close` and returns the raw response.
fn exchange(address: &str, request_head: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(request_head.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn empty_manifest() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layers.toml");
    std::fs::write(&path, "# no layers\n").unwrap();
    (dir, path)
}

/// Montréal city hall is in the Ville-Marie borough, as the borough file's
/// own polygons place it (its boundary is over 1 km away).
#[test]
fn sigterm_drains_request_in_flight() {
    let mut server = Server::start(&data_manifest());
    let address = listen_address(&server.wait_for("listening"));
    server.wait_for("ready layers=");

    // Send the head and half the body, so the request is in flight.
    let body = br#"{"lat": 45.5088, "lon": -73.5542, "layers": ["montreal_boroughs"]}"#;
    let mut stream = TcpStream::connect(&address).unwrap();
    let head = format!(
        "POST /v1/context HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         x-request-id: drain-test-1\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..10]).unwrap();
    server.wait_for("drain-test-1");

    server.signal("TERM");
    server.wait_for("shutting down");
    stream.write_all(&body[10..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();

    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("x-request-id: drain-test-1"),
        "{response}"
    );
    assert!(response.contains(r#""name":"Ville-Marie""#), "{response}");
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
}

#[test]
fn default_data_layers_served() {
    let manifest_text = std::fs::read_to_string(data_manifest()).unwrap();
    let manifest: toml::Value = toml::from_str(&manifest_text).unwrap();
    let expected: Vec<&str> = manifest["layer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["name"].as_str().unwrap())
        .collect();

    let server = Server::start(&data_manifest());
    let address = listen_address(&server.wait_for("listening"));
    server.wait_for("ready layers=");
    let response = exchange(
        &address,
        "GET /v1/layers HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = &response[response.find("\r\n\r\n").unwrap() + 4..];
    let listed: serde_json::Value = serde_json::from_str(body).unwrap();
    let names: Vec<&str> = listed["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, expected, "every manifest layer, in manifest order");
}

#[test]
fn ready_after_loading() {
    let (_dir, manifest) = empty_manifest();
    let server = Server::start(&manifest);
    let address = listen_address(&server.wait_for("listening"));
    server.wait_for("ready layers=");

    let response = exchange(
        &address,
        "GET /ready HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#"{"status":"ready"}"#), "{response}");
}

#[test]
fn missing_manifest_fails() {
    let output = Command::new(env!("CARGO_BIN_EXE_repere"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--manifest",
            "/nonexistent/layers.toml",
        ])
        .env_remove("REPERE_CONFIG")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/layers.toml"), "{stderr}");
}

#[test]
fn bad_listen_flag_is_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_repere"))
        .args(["serve", "--listen", "localhost"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("'localhost'"), "{stderr}");
}

/// Requests carry citizens' locations: the log names the route, never the
/// query string or the body, even for a rejected request.
#[test]
fn locations_not_logged() {
    let (_dir, manifest) = empty_manifest();
    let mut server = Server::start(&manifest);
    let address = listen_address(&server.wait_for("listening"));
    server.wait_for("ready layers=");

    let get = "GET /v1/context?lat=45.5088173&lon=-73.5542419 HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n";
    assert!(exchange(&address, get).starts_with("HTTP/1.1 200"));
    let rejected = "GET /v1/context?lat=95.5088274&lon=-73.5542520 HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n";
    assert!(exchange(&address, rejected).starts_with("HTTP/1.1 400"));
    let body = r#"{"lat": 45.5088375, "lon": -73.5542621}"#;
    let post = format!(
        "POST /v1/context HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    assert!(exchange(&address, &post).starts_with("HTTP/1.1 200"));

    server.signal("TERM");
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let log: Vec<String> = server.log.iter().collect();
    let finished = log
        .iter()
        .filter(|line| line.contains("request finished"))
        .count();
    assert_eq!(finished, 3, "one line per request: {log:#?}");
    assert!(
        log.iter()
            .any(|line| line.contains(r#"path="/v1/context""#)),
        "{log:#?}"
    );
    for line in &log {
        let coordinates = [
            "5088173", "5542419", "5088274", "5542520", "5088375", "5542621",
        ];
        for digits in coordinates.iter().chain(&["?lat"]) {
            assert!(!line.contains(digits), "{digits:?} logged: {line}");
        }
    }
}

/// A client that sends half its headers and then nothing must not keep the
/// server from stopping: the header read time-out closes its connection.
#[test]
fn sigterm_with_half_sent_headers() {
    let mut server = Server::start_with_env(&data_manifest(), &[("REPERE_REQUEST_TIMEOUT_S", "1")]);
    let address = listen_address(&server.wait_for("listening"));
    server.wait_for("ready layers=");

    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: test\r\n")
        .unwrap();
    server.signal("TERM");
    server.wait_for("shutting down");

    // The read time-out only keeps a server that never closes the
    // connection from hanging the test.
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let mut response = Vec::new();
    if let Err(e) = stream.read_to_end(&mut response) {
        let kind = e.kind();
        assert!(
            kind != std::io::ErrorKind::WouldBlock && kind != std::io::ErrorKind::TimedOut,
            "the server kept the half-sent request open: {e}"
        );
    }
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    drop(stream);
}
