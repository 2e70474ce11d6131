//! `kill -9` of `repere import` at random moments: the store's active
//! version stays as it was, and no partial version is left behind.
//!
//! The moments are drawn from a seeded generator; the seed is printed, and
//! REPERE_FAULT_SEED replays a run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use repere::store::{Page, Store, VersionInfo};

const FEATURES: usize = 20_000;
const KILLS: usize = 20;

/// Writes a GeoJSON file of `FEATURES` points on a 0.001° grid over
/// Montréal, each with an id and a name.
fn write_grid(path: &Path) {
    let mut text = String::from("{\"type\":\"FeatureCollection\",\"features\":[\n");
    for i in 0..FEATURES {
        let lon = -73.9 + (i % 200) as f64 * 0.001;
        let lat = 45.4 + (i / 200) as f64 * 0.001;
        if i > 0 {
            text.push_str(",\n");
        }
        text.push_str(&format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"code\":\"P{i}\",\"label\":\"point {i}\"}},\
             \"geometry\":{{\"type\":\"Point\",\"coordinates\":[{lon:.3},{lat:.3}]}}}}"
        ));
    }
    text.push_str("\n]}\n");
    std::fs::write(path, text).unwrap();
}

/// The store under test: a GeoPackage in a folder, or a PostGIS database.
enum Backend {
    GeoPackage(PathBuf),
    Postgis(String),
}

impl Backend {
    fn args(&self) -> Vec<String> {
        match self {
            Backend::GeoPackage(dir) => vec!["--state-dir".into(), dir.display().to_string()],
            Backend::Postgis(url) => vec!["--database-url".into(), url.clone()],
        }
    }

    async fn open(&self) -> Store {
        match self {
            Backend::GeoPackage(dir) => Store::open(None, dir).await.unwrap(),
            Backend::Postgis(url) => Store::open(Some(url), Path::new(".")).await.unwrap(),
        }
    }
}

fn import_command(file: &Path, backend: &Backend, layer: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_repere"));
    command
        .arg("import")
        .arg(file)
        .args([
            "--layer",
            layer,
            "--kind",
            "asset",
            "--id-field",
            "code",
            "--name-field",
            "label",
        ])
        .args(backend.args())
        .env_remove("REPERE_CONFIG")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// xorshift64*: enough to spread the kill moments, and replayable.
struct Moments(u64);

impl Moments {
    fn next_fraction(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn seed() -> u64 {
    match std::env::var("REPERE_FAULT_SEED") {
        Ok(text) => text.parse().expect("REPERE_FAULT_SEED is a u64"),
        Err(_) => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        }
    }
}

/// Checks that version `active` is the active version, unchanged, and that
/// every stored version reads back whole.
async fn check_store(store: &Store, layer: &str, active: &VersionInfo, round: usize) {
    let now = store.active_version(layer).await.unwrap();
    assert_eq!(
        now.as_ref(),
        Some(active),
        "round {round}: the active version changed"
    );
    for version in store.versions(layer, Page::first(1000)).await.unwrap() {
        let loaded = store.load_version(layer, version.version).await.unwrap();
        assert_eq!(
            loaded.features.len(),
            version.feature_count,
            "round {round}: version {} is partial",
            version.version
        );
        assert_eq!(
            version.feature_count, FEATURES,
            "round {round}: version {}",
            version.version
        );
    }
}

/// Imports the grid once and activates it, then kills `KILLS` imports of
/// the same file at seeded random moments within the time of a full run.
async fn kill_imports(backend: Backend, layer: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grid.geojson");
    write_grid(&file);

    let started = Instant::now();
    let status = import_command(&file, &backend, layer)
        .arg("--activate")
        .status()
        .unwrap();
    assert!(status.success());
    let full_run = started.elapsed();
    let active = backend
        .open()
        .await
        .active_version(layer)
        .await
        .unwrap()
        .unwrap();

    let seed = seed();
    println!("{layer}: kill moments seed {seed} (REPERE_FAULT_SEED={seed} replays them)");
    let mut moments = Moments(seed);
    let running = backend.open().await;
    for round in 0..KILLS {
        let delay = full_run.mul_f64(moments.next_fraction());
        let mut child = import_command(&file, &backend, layer).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status();
        let _ = child.wait();
        println!(
            "{layer} round {round}: killed after {} ms",
            delay.as_millis()
        );
        // The store as a running service holds it, opened before the kill,
        // and as a restarted process opens it.
        check_store(&running, layer, &active, round).await;
        let reopened = backend.open().await;
        check_store(&reopened, layer, &active, round).await;
    }
    let stored = backend
        .open()
        .await
        .versions(layer, Page::first(1000))
        .await
        .unwrap();
    println!(
        "{layer}: {} of {KILLS} killed imports completed before the kill",
        stored.len() - 1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_imports_keep_geopackage() {
    let dir = tempfile::tempdir().unwrap();
    kill_imports(Backend::GeoPackage(dir.path().join("state")), "grid").await;
}

/// Needs the PostGIS test database (REPERE_TEST_DATABASE_URL).
#[tokio::test(flavor = "multi_thread")]
async fn killed_imports_keep_postgis() {
    let url = std::env::var("REPERE_TEST_DATABASE_URL")
        .expect("REPERE_TEST_DATABASE_URL is not set: run scripts/test, which starts PostGIS");
    let layer = format!("grid_{}", std::process::id());
    kill_imports(Backend::Postgis(url), &layer).await;
}

const GIS_TOKEN: &str = "fault-test-token-81c2";

/// Starts `repere serve` on a free port with a GeoPackage store in
/// `state_dir` and one token of role gis, and returns it with its address.
fn start_serve(dir: &Path, state_dir: &Path) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};

    let manifest = dir.join("layers.toml");
    std::fs::write(&manifest, "# no layers\n").unwrap();
    let config = dir.join("repere.toml");
    let hash = repere::auth::hash_token(GIS_TOKEN);
    let text = format!("[[token]]\nname = \"faults\"\nroles = [\"gis\"]\nsha256 = \"{hash}\"\n");
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_repere"))
        .args(["serve", "--listen", "127.0.0.1:0", "--manifest"])
        .arg(&manifest)
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(state_dir)
        .env("REPERE_LOG", "info")
        .env_remove("REPERE_CONFIG")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut address = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(start) = line.find("listen=") {
            let rest = &line[start + "listen=".len()..];
            address = Some(rest.split_whitespace().next().unwrap().to_owned());
        }
        if line.contains("ready layers=") {
            break;
        }
    }
    // Keep reading the log so that the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, address.expect("the server logged its address"))
}

/// The grid file as a multipart form for the import route.
fn grid_form(file: &Path) -> (String, Vec<u8>) {
    let boundary = "fault-test-boundary";
    let mut body = Vec::new();
    for (name, value) in [
        ("kind", "asset"),
        ("id_field", "code"),
        ("name_field", "label"),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"grid.geojson\"\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&std::fs::read(file).unwrap());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_import(
    address: &str,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(format!("http://{address}/v1/layers/grid/import{query}"))
        .bearer_auth(GIS_TOKEN)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
}

/// `kill -9` of `repere serve` while it imports the grid over HTTP.
#[tokio::test(flavor = "multi_thread")]
async fn killed_server_keeps_geopackage() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grid.geojson");
    write_grid(&file);
    let state_dir = dir.path().join("state");
    let (content_type, body) = grid_form(&file);

    let (mut server, address) = start_serve(dir.path(), &state_dir);
    let started = Instant::now();
    let first = post_import(&address, "?activate=true", &content_type, body.clone())
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let full_run = started.elapsed();
    server.kill().unwrap();
    server.wait().unwrap();
    let store = Store::open(None, &state_dir).await.unwrap();
    let active = store.active_version("grid").await.unwrap().unwrap();
    drop(store);

    let seed = seed();
    println!("serve: kill moments seed {seed} (REPERE_FAULT_SEED={seed} replays them)");
    let mut moments = Moments(seed);
    for round in 0..KILLS {
        let (mut server, address) = start_serve(dir.path(), &state_dir);
        let request = tokio::spawn(post_import_owned(
            address,
            content_type.clone(),
            body.clone(),
        ));
        tokio::time::sleep(full_run.mul_f64(moments.next_fraction())).await;
        let _ = Command::new("kill")
            .args(["-9", &server.id().to_string()])
            .status();
        let _ = server.wait();
        let _ = request.await;
        let store = Store::open(None, &state_dir).await.unwrap();
        check_store(&store, "grid", &active, round).await;
    }
}

async fn post_import_owned(address: String, content_type: String, body: Vec<u8>) {
    let _ = post_import(&address, "", &content_type, body).await;
}
