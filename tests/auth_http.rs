//! Access tokens over real HTTP: `repere serve` started as a process with a
//! config file, requests sent with reqwest to 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};

use serde_json::Value;

const READER_TOKEN: &str = "reader-token-7f3a9c";
const GIS_TOKEN: &str = "gis-token-52be01";

/// `printf %s TOKEN | sha256sum` for each token above.
fn token_config() -> String {
    format!(
        "open_reads = false\nmax_upload_bytes = 1048576\n\n\
         [[token]]\nname = \"reader\"\nroles = [\"read\"]\nsha256 = \"{}\"\n\n\
         [[token]]\nname = \"gis-team\"\nroles = [\"read\", \"gis\"]\nsha256 = \"{}\"\n",
        sha256sum(READER_TOKEN),
        sha256sum(GIS_TOKEN)
    )
}

/// The hash as coreutils' `sha256sum` computes it, independent of the crate.
fn sha256sum(text: &str) -> String {
    let output = Command::new("sh")
        .args(["-c", "printf %s \"$0\" | sha256sum", text])
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_owned()
}

struct Server {
    child: Child,
    log: Receiver<String>,
    address: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `repere serve` with no layers and `config` as its config file
    /// (none when empty), then waits until it is ready.
    fn start(config: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("layers.toml");
        std::fs::write(&manifest, "# no layers\n").unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_repere"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--manifest"])
            .arg(&manifest)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .env("REPERE_LOG", "debug")
            .env_remove("REPERE_CONFIG")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !config.is_empty() {
            let path = dir.path().join("repere.toml");
            std::fs::write(&path, config).unwrap();
            command.arg("--config").arg(path);
        }
        let mut child = command.spawn().unwrap();
        let log = forward_lines(child.stderr.take().unwrap());
        let mut server = Server {
            child,
            log,
            address: String::new(),
            _dir: dir,
        };
        let listening = server.wait_for("listening");
        let start = listening.find("listen=").unwrap() + "listen=".len();
        server.address = listening[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        server.wait_for("ready layers=");
        server
    }

    fn wait_for(&self, part: &str) -> String {
        for line in self.log.iter() {
            if line.contains(part) {
                return line;
            }
        }
        panic!("the server exited before logging {part:?}");
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Stops the server and returns every line it logged.
    fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-s", "TERM", &pid])
            .status()
            .unwrap();
        self.child.wait().unwrap();
        self.log.iter().collect()
    }
}

fn forward_lines(stderr: std::process::ChildStderr) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

const BOUNDARY: &str = "repere-test-boundary-5d1c";

/// A multipart form with `file` and the text parts `fields`.
fn form(file: &Path, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    let file_name = file.file_name().unwrap().to_string_lossy();
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             content-type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&std::fs::read(file).unwrap());
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

const NEIGHBOURHOODS: &str =
    "data/montreal-neighbourhoods-2014/quartiers_sociologiques_2014.geojson";

fn neighbourhood_form() -> Vec<u8> {
    form(
        &repo_file(NEIGHBOURHOODS),
        &[
            ("kind", "district"),
            ("id_field", "id"),
            ("name_field", "Q_sociologique"),
        ],
    )
}

async fn post_form(url: &str, token: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn get(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn error_message(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], status);
    body["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn reads_need_read_role() {
    let server = Server::start(&token_config());
    let layers = server.url("/v1/layers");

    let missing = get(&layers, None).await;
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let message = error_message(missing, 401).await;
    assert!(message.contains("Authorization"), "{message}");

    let unknown = get(&layers, Some("not-a-token")).await;
    assert_eq!(unknown.headers()["www-authenticate"], "Bearer");
    error_message(unknown, 401).await;

    assert_eq!(get(&layers, Some(READER_TOKEN)).await.status(), 200);
    assert_eq!(get(&layers, Some(GIS_TOKEN)).await.status(), 200);
    assert_eq!(get(&server.url("/health"), None).await.status(), 200);
    server.stop();
}

#[tokio::test]
async fn import_needs_gis_role() {
    let server = Server::start(&token_config());
    let import = server.url("/v1/layers/quartiers/import?activate=true");

    let missing = post_form(&import, None, neighbourhood_form()).await;
    error_message(missing, 401).await;
    let read_only = post_form(&import, Some(READER_TOKEN), neighbourhood_form()).await;
    let message = error_message(read_only, 403).await;
    assert!(message.contains("\"reader\""), "{message}");
    assert!(message.contains("gis"), "{message}");

    let imported = post_form(&import, Some(GIS_TOKEN), neighbourhood_form()).await;
    assert_eq!(imported.status(), 200);
    let report: Value = imported.json().await.unwrap();
    // ogrinfo -so -al: "Feature Count: 32", EPSG:4326.
    assert_eq!(report["feature_count"], 32);
    assert_eq!(report["source_crs"], "EPSG:4326");
    assert_eq!(report["version"], 1);
    assert_eq!(report["activated"], true);
    assert_eq!(report["imported_by"], "gis-team");

    let versions = get(
        &server.url("/v1/layers/quartiers/versions"),
        Some(READER_TOKEN),
    )
    .await;
    assert_eq!(versions.status(), 200);
    let list: Value = versions.json().await.unwrap();
    assert_eq!(list["versions"][0]["activated_by"], "gis-team");

    let activate = reqwest::Client::new()
        .post(server.url("/v1/layers/quartiers/activate"))
        .bearer_auth(READER_TOKEN)
        .json(&serde_json::json!({"version": 1}))
        .send()
        .await
        .unwrap();
    error_message(activate, 403).await;

    let log = server.stop();
    for line in &log {
        assert!(!line.contains(READER_TOKEN), "token logged: {line}");
        assert!(!line.contains(GIS_TOKEN), "token logged: {line}");
    }
}

#[tokio::test]
async fn dry_run_reports_diff() {
    let server = Server::start(&token_config());
    let base = "/v1/layers/quartiers/import";
    let stored = post_form(
        &server.url(&format!("{base}?activate=true")),
        Some(GIS_TOKEN),
        neighbourhood_form(),
    )
    .await;
    assert_eq!(stored.status(), 200);

    let filtered = form(
        &repo_file(NEIGHBOURHOODS),
        &[
            ("kind", "district"),
            ("id_field", "id"),
            ("name_field", "Q_sociologique"),
            ("where", "id > 3"),
        ],
    );
    let dry = post_form(
        &server.url(&format!("{base}?dry_run=true")),
        Some(GIS_TOKEN),
        filtered,
    )
    .await;
    assert_eq!(dry.status(), 200);
    let report: Value = dry.json().await.unwrap();
    assert_eq!(report["version"], Value::Null);
    // The file's ids run from 1 to 32, so `id > 3` leaves out 1, 2 and 3.
    assert_eq!(report["filtered_count"], 3);
    assert_eq!(report["diff"]["active_version"], 1);
    assert_eq!(
        report["diff"]["removed"]["ids"],
        serde_json::json!(["1", "2", "3"])
    );
    assert_eq!(report["diff"]["added"]["count"], 0);

    let versions = get(
        &server.url("/v1/layers/quartiers/versions"),
        Some(GIS_TOKEN),
    )
    .await;
    let list: Value = versions.json().await.unwrap();
    assert_eq!(list["total"], 1, "the dry run stored nothing");
    server.stop();
}

/// lieux-interet.geojson is 2.1 MB, over the configured 1 MiB.
#[tokio::test]
async fn upload_over_limit_rejected() {
    let server = Server::start(&token_config());
    let body = form(
        &repo_file("tests/fixtures/montreal-places/lieux-interet.geojson"),
        &[
            ("kind", "asset"),
            ("id_field", "fid"),
            ("name_field", "Type"),
        ],
    );
    let sent = reqwest::Client::new()
        .post(server.url("/v1/layers/places/import"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .bearer_auth(GIS_TOKEN)
        .body(body)
        .send()
        .await;
    // The service answers 413 from the declared length, before reading the
    // body, and closes the connection, so the client can fail while still
    // writing it. tests/import_http_requests.rs reads that 413 on a raw
    // socket that sends no body.
    match sent {
        Ok(response) => {
            let message = error_message(response, 413).await;
            assert!(message.contains("1048576"), "{message}");
        }
        Err(error) => assert!(error.is_request(), "{error}"),
    }
    server.stop();
}

#[tokio::test]
async fn default_config_closes_gis_routes() {
    let server = Server::start("");
    assert_eq!(get(&server.url("/v1/layers"), None).await.status(), 200);
    let response = post_form(
        &server.url("/v1/layers/quartiers/import"),
        Some(GIS_TOKEN),
        neighbourhood_form(),
    )
    .await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let message = error_message(response, 401).await;
    assert!(message.contains("[[token]]"), "{message}");
    server.stop();
}
