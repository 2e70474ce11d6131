//! `repere serve` processes over a layer store, for the version tests: the
//! store backends, the server process and small layers written as GeoJSON.
//!
//! Every test runs against a GeoPackage in a temporary state directory and
//! against PostGIS at `REPERE_TEST_DATABASE_URL`, in a schema of its own,
//! both made by the store tests' support module.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

#[path = "../store_support/mod.rs"]
mod store_support;

use store_support::TestBackend;

/// Where the servers of one test keep their layers.
pub enum Backend {
    GeoPackage { dir: TempDir, state_dir: PathBuf },
    Postgis { url: String },
}

impl Backend {
    pub fn label(&self) -> &'static str {
        match self {
            Backend::GeoPackage { .. } => "geopackage",
            Backend::Postgis { .. } => "postgis",
        }
    }

    /// Returns the `repere serve` arguments that select this store.
    fn serve_args(&self) -> Vec<String> {
        match self {
            Backend::GeoPackage { state_dir, .. } => {
                vec!["--state-dir".to_owned(), state_dir.display().to_string()]
            }
            Backend::Postgis { url } => vec!["--database-url".to_owned(), url.clone()],
        }
    }
}

/// Returns the GeoPackage and the PostGIS backend of `test`, each empty.
/// The PostGIS one is a schema of its own, selected by the `options`
/// parameter of the database URL.
pub async fn backends(test: &str) -> Vec<Backend> {
    store_support::backends(test)
        .await
        .into_iter()
        .map(|backend| match backend {
            TestBackend::GeoPackage { _dir, path } => Backend::GeoPackage {
                dir: _dir,
                state_dir: path
                    .parent()
                    .expect("the GeoPackage is in a folder")
                    .to_owned(),
            },
            TestBackend::Postgis { url, schema } => Backend::Postgis {
                url: with_search_path(&url, &schema),
            },
        })
        .collect()
}

/// Returns the PostGIS backend of `test`.
pub async fn postgis(test: &str) -> Backend {
    let mut all = backends(test).await;
    all.pop().expect("the PostGIS backend comes last")
}

/// Adds `options=-c search_path=<schema>,public` to a PostgreSQL URL, percent-encoded.
fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}%2Cpublic")
}

/// The bearer token of every test request, and the name its config entry
/// gives it: the `activated_by` of the activations made through the API.
pub const TOKEN: &str = "versions-test-token-0123456789";
pub const TOKEN_NAME: &str = "gis-test";

/// Writes a config file in `dir` whose only token is [`TOKEN`], with the
/// roles read and gis, after the top-level settings `settings`.
fn write_config(dir: &Path, settings: &str) -> PathBuf {
    let path = dir.join("repere.toml");
    let text = format!(
        "{settings}\n[[token]]\nname = \"{TOKEN_NAME}\"\nroles = [\"read\", \"gis\"]\nsha256 = \"{}\"\n",
        hex(&Sha256::digest(TOKEN.as_bytes()))
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A `repere serve` child process, its address and the lines of its log.
pub struct Server {
    child: Child,
    log: Receiver<String>,
    pub base: String,
    _config_dir: TempDir,
}

impl Server {
    /// Starts `repere serve` on a free port of 127.0.0.1 with `manifest` and
    /// `backend`, and waits until it is ready.
    pub fn start(manifest: &Path, backend: &Backend) -> Server {
        Server::start_with_settings(manifest, backend, "")
    }

    /// Starts a server as [`Server::start`] does, with the top-level config
    /// settings `settings`, e.g. `max_upload_bytes = 1048576`.
    pub fn start_with_settings(manifest: &Path, backend: &Backend, settings: &str) -> Server {
        let config_dir = tempfile::tempdir().expect("create a temporary directory");
        let mut child = Command::new(env!("CARGO_BIN_EXE_repere"))
            .args(["serve", "--listen", "127.0.0.1:0", "--manifest"])
            .arg(manifest)
            .arg("--config")
            .arg(write_config(config_dir.path(), settings))
            .args(backend.serve_args())
            .env("REPERE_LOG", "info")
            .env("REPERE_VERSION_CHECK_S", "5")
            .env_remove("REPERE_CONFIG")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start repere serve");
        let log = forward_lines(child.stderr.take().unwrap());
        let mut server = Server {
            child,
            log,
            base: String::new(),
            _config_dir: config_dir,
        };
        let listening = server.wait_for("listening");
        server.base = format!("http://{}", listen_address(&listening));
        server.wait_for("ready layers=");
        server
    }

    /// Waits for the first log line containing `part` and returns it.
    pub fn wait_for(&self, part: &str) -> String {
        for line in self.log.iter() {
            if line.contains(part) {
                return line;
            }
        }
        panic!("the server exited before logging {part:?}");
    }

    /// Stops the server as [`Server::stop`] does and returns the lines it
    /// logged that no [`Server::wait_for`] consumed.
    pub fn stop_with_log(mut self) -> Vec<String> {
        self.terminate();
        self.log.iter().collect()
    }

    /// Sends SIGTERM and waits for the process to exit with status 0.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let status = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s TERM failed");
        let exit = self.child.wait().unwrap();
        assert_eq!(exit.code(), Some(0), "exit status after SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stderr: std::process::ChildStderr) -> Receiver<String> {
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

/// A manifest of one layer in a temporary folder, whose source file the
/// test rewrites to make new versions.
pub struct LayerFiles {
    pub dir: TempDir,
    pub manifest: PathBuf,
    pub source: PathBuf,
}

impl LayerFiles {
    /// Writes a manifest with the layer `name` of `kind`, read from
    /// `name.geojson` with ids in the `id` property and names in `name`.
    pub fn new(name: &str, kind: &str) -> LayerFiles {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let manifest = dir.path().join("layers.toml");
        let source = dir.path().join(format!("{name}.geojson"));
        let text = format!(
            "[[layer]]\nname = \"{name}\"\nkind = \"{kind}\"\npath = \"{name}.geojson\"\n\
             id_field = \"id\"\nname_field = \"name\"\nattribution = \"Test publisher\"\n\
             licence = \"CC0-1.0\"\n"
        );
        std::fs::write(&manifest, text).unwrap();
        LayerFiles {
            dir,
            manifest,
            source,
        }
    }

    /// Writes `collection` as the layer's source file and returns its SHA-256.
    pub fn write(&self, collection: &Value) -> String {
        let bytes = serde_json::to_vec(collection).unwrap();
        std::fs::write(&self.source, &bytes).unwrap();
        hex(&Sha256::digest(&bytes))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The point every district test queries: inside district `A` of every version.
pub const POINT_LAT: f64 = 45.505;
pub const POINT_LON: f64 = -73.595;

/// Districts of version `version`: squares of 0.01° side by side from
/// -73.60 eastwards, with ids `v{version}-A`, `v{version}-B`…
pub fn districts(version: u32, count: usize) -> Value {
    let features: Vec<Value> = (0..count)
        .map(|i| {
            let west = -73.60 + 0.01 * i as f64;
            let east = west + 0.01;
            let letter = char::from(b'A' + i as u8);
            json!({
                "type": "Feature",
                "properties": {"id": format!("v{version}-{letter}"), "name": format!("district {letter}")},
                "geometry": {"type": "Polygon", "coordinates": [[
                    [west, 45.50], [east, 45.50], [east, 45.51], [west, 45.51], [west, 45.50]
                ]]}
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

/// Returns the entry of `layer` in a context answer.
pub fn layer_entry<'a>(answer: &'a Value, layer: &str) -> &'a Value {
    answer["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("no layers in {answer}"))
        .iter()
        .find(|entry| entry["name"] == layer)
        .unwrap_or_else(|| panic!("no layer {layer} in {answer}"))
}

/// Returns the feature ids of `layer` in a context answer.
pub fn feature_ids(answer: &Value, layer: &str) -> Vec<String> {
    layer_entry(answer, layer)["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|feature| feature["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Returns an HTTP client that sends [`TOKEN`] with every request.
pub fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("Bearer {TOKEN}").parse().unwrap();
    headers.insert(reqwest::header::AUTHORIZATION, bearer);
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// GETs `url` and returns the status and the JSON body.
pub async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// POSTs `body` as JSON to `url` and returns the status and the JSON body.
pub async fn post_json(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let response = client.post(url).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The multipart boundary of [`post_import`]'s forms.
const IMPORT_BOUNDARY: &str = "repere-import-test-boundary";

/// Builds the multipart form of an import: the text parts `fields`, then
/// `file` as the part `file` named `file_name`.
pub fn import_form(file_name: &str, file: &[u8], fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        let part = format!(
            "--{IMPORT_BOUNDARY}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        );
        body.extend_from_slice(part.as_bytes());
    }
    let header = format!(
        "--{IMPORT_BOUNDARY}\r\ncontent-disposition: form-data; name=\"file\"; \
         filename=\"{file_name}\"\r\ncontent-type: application/octet-stream\r\n\r\n"
    );
    body.extend_from_slice(header.as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{IMPORT_BOUNDARY}--\r\n").as_bytes());
    body
}

/// Posts an import form with the gis token to `path_and_query` (such as
/// `/v1/layers/laval/import?dry_run=true`) and returns the status and the
/// JSON body.
pub async fn post_import(
    server: &Server,
    path_and_query: &str,
    file_name: &str,
    file: &[u8],
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let content_type = format!("multipart/form-data; boundary={IMPORT_BOUNDARY}");
    let response = reqwest::Client::new()
        .post(format!("{}{path_and_query}", server.base))
        .bearer_auth(TOKEN)
        .header("content-type", content_type)
        .body(import_form(file_name, file, fields))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The keys of an import response that a stored version has no value for.
const IMPORT_ONLY_KEYS: [&str; 2] = ["dry_run", "activated"];

/// Checks that `version`, a body of `GET /v1/layers/{name}/versions/{v}`,
/// has every key of the import response `import` but `dry_run` and
/// `activated`, at the same place and with the same value.
pub fn assert_version_repeats_import(label: &str, version: &Value, import: &Value) {
    let keys = import
        .as_object()
        .expect("the import response is an object");
    for (key, value) in keys {
        if IMPORT_ONLY_KEYS.contains(&key.as_str()) {
            continue;
        }
        assert_eq!(
            version.get(key),
            Some(value),
            "{label}: {key} of version {version}"
        );
    }
}
