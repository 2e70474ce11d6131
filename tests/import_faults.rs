//! `kill -9` of `repere import`, and of `repere serve` while it imports
//! over HTTP, at random moments: the store's active version stays as it
//! was, no partial version is left behind, and a restarted server removes
//! the upload folders of the killed one.
//!
//! The moments are drawn from a seeded generator; the seed is printed, and
//! REPERE_FAULT_SEED replays a run.

#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "serve_support/mod.rs"]
mod serve_support;
#[path = "versions_support/mod.rs"]
mod versions_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use faults_support::{Fingerprint, Tables};
use repere::store::{DEFAULT_FILE_NAME, Page, Store, VersionInfo};

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

/// The store under test: a GeoPackage in a state folder, or a PostGIS
/// database whose URL may select a schema.
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

    fn label(&self) -> &'static str {
        match self {
            Backend::GeoPackage(_) => "geopackage",
            Backend::Postgis(_) => "postgis",
        }
    }

    async fn open(&self) -> Store {
        match self {
            Backend::GeoPackage(dir) => Store::open(None, dir).await.unwrap(),
            Backend::Postgis(url) => Store::open(Some(url), Path::new(".")).await.unwrap(),
        }
    }

    /// Connects to the store's tables without repère's store code.
    async fn tables(&self) -> Tables {
        match self {
            Backend::GeoPackage(dir) => Tables::open_geopackage(&dir.join(DEFAULT_FILE_NAME)),
            Backend::Postgis(url) => Tables::connect_postgis(url).await,
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

/// Returns the fingerprint of the file [`write_grid`] writes, computed by
/// hand: 100 rows of 200 points, at longitude -73.900 + 0.001·column and
/// latitude 45.400 + 0.001·row, where columns 0 to 199 sum to 19,900 and
/// rows 0 to 99 to 4,950.
fn grid_fingerprint() -> Fingerprint {
    Fingerprint {
        features: 20_000,
        distinct_ids: 20_000,
        lon_sum_milli: 100 * (200 * -73_900 + 19_900),
        lat_sum_milli: 200 * (100 * 45_400 + 4_950),
    }
}

/// Checks, in the store's own tables, that version `active` of `layer` is
/// still the active one with the features `expected`, that every complete
/// version row has all its feature rows and that an incomplete one has
/// none. Returns the number of complete and incomplete rows.
async fn check_tables(
    backend: &Backend,
    layer: &str,
    active: i64,
    expected: &Fingerprint,
    round: usize,
) -> (usize, usize) {
    let mut tables = backend.tables().await;
    let now = tables.active_version(layer).await;
    assert_eq!(now, Some(active), "round {round}: the active version");
    let fingerprint = tables.fingerprint(layer, active).await;
    assert_eq!(
        &fingerprint, expected,
        "round {round}: the features of active version {active}"
    );
    let rows = tables.version_rows(layer).await;
    for row in &rows {
        let version = row.version;
        if row.complete {
            assert_eq!(
                row.feature_count, FEATURES as i64,
                "round {round}: the count of version {version}"
            );
            assert_eq!(
                row.stored_features, row.feature_count,
                "round {round}: the feature rows of version {version}"
            );
        } else {
            assert_eq!(
                row.stored_features, 0,
                "round {round}: the feature rows of incomplete version {version}"
            );
        }
    }
    let complete = rows.iter().filter(|row| row.complete).count();
    (complete, rows.len() - complete)
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
    let label = backend.label();
    println!("{label} import: kill moments seed {seed} (REPERE_FAULT_SEED={seed} replays them)");
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
            "{label} import round {round}: killed after {} ms",
            delay.as_millis()
        );
        // The store as a running service holds it, opened before the kill,
        // and as a restarted process opens it.
        check_store(&running, layer, &active, round).await;
        let reopened = backend.open().await;
        check_store(&reopened, layer, &active, round).await;
        let version = i64::from(active.version);
        check_tables(&backend, layer, version, &grid_fingerprint(), round).await;
    }
    let stored = backend
        .open()
        .await
        .versions(layer, Page::first(1000))
        .await
        .unwrap();
    println!(
        "{label} import: {} of {KILLS} killed imports completed before the kill",
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
    kill_imports(postgis_backend("faults_import").await, "grid").await;
}

/// Returns an empty PostGIS store in a schema of its own, named after
/// `test`, so that layer names cannot collide with other tests.
async fn postgis_backend(test: &str) -> Backend {
    match versions_support::postgis(test).await {
        versions_support::Backend::Postgis { url } => Backend::Postgis(url),
        versions_support::Backend::GeoPackage { .. } => {
            unreachable!("versions_support::postgis returns a PostGIS backend")
        }
    }
}

const GIS_TOKEN: &str = "fault-test-token-81c2";

/// Starts `repere serve` over `backend`, with no manifest layer, one token
/// of role gis and `dir/tmp` as its temporary folder, and returns it with
/// its address once it is ready.
fn start_serve(dir: &Path, backend: &Backend) -> (std::process::Child, String) {
    let manifest = dir.join("layers.toml");
    std::fs::write(&manifest, "# no layers\n").unwrap();
    let config = dir.join("repere.toml");
    let hash = repere::auth::hash_token(GIS_TOKEN);
    let text = format!("[[token]]\nname = \"faults\"\nroles = [\"gis\"]\nsha256 = \"{hash}\"\n");
    std::fs::write(&config, text).unwrap();
    let mut args = vec![
        "--manifest".to_owned(),
        manifest.display().to_string(),
        "--config".to_owned(),
        config.display().to_string(),
    ];
    args.extend(backend.args());
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    serve_support::start_serve_with_env(args, &[("TMPDIR", tmp.as_os_str())])
}

/// Lists what is in the temporary folder of the servers of `dir`. After a
/// restart that folder is empty: the uploads of a killed server are
/// removed before the new one is ready, and it has no import of its own.
fn temporary_files(dir: &Path) -> Vec<String> {
    let entries = std::fs::read_dir(dir.join("tmp")).unwrap();
    entries
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
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
        .post(format!(
            "http://{address}/v1/layers/{SERVED_LAYER}/import{query}"
        ))
        .bearer_auth(GIS_TOKEN)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
}

async fn post_import_owned(address: String, content_type: String, body: Vec<u8>) {
    let _ = post_import(&address, "", &content_type, body).await;
}

/// The layer the server tests import; each test has a store of its own.
const SERVED_LAYER: &str = "grid";

/// Sends SIGKILL to `server` and reaps it.
fn kill_hard(server: &mut std::process::Child) {
    let status = Command::new("kill")
        .args(["-9", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -9 {} failed", server.id());
    let _ = server.wait();
}

/// Imports the grid over HTTP once and activates it, then `KILLS` times
/// posts it again and kills `repere serve` with SIGKILL at a seeded random
/// moment within the time of a full import. After each kill a new server
/// starts on the same store, and the store is checked through its tables
/// and through repère's store code.
async fn kill_servers(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grid.geojson");
    write_grid(&file);
    let (content_type, body) = grid_form(&file);

    let (mut server, mut address) = start_serve(dir.path(), &backend);
    let started = Instant::now();
    let first = post_import(&address, "?activate=true", &content_type, body.clone())
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let full_run = started.elapsed();
    let mut tables = backend.tables().await;
    let active = tables.active_version(SERVED_LAYER).await.unwrap();
    let before = tables.fingerprint(SERVED_LAYER, active).await;
    drop(tables);
    assert_eq!(before, grid_fingerprint(), "the first import");
    let active_info = backend.open().await.active_version(SERVED_LAYER).await;
    let active_info = active_info.unwrap().unwrap();

    let label = backend.label();
    let seed = seed();
    println!("{label} serve: kill moments seed {seed} (REPERE_FAULT_SEED={seed} replays them)");
    let mut moments = Moments(seed);
    let mut rows = (0, 0);
    for round in 0..KILLS {
        let request = tokio::spawn(post_import_owned(
            address.clone(),
            content_type.clone(),
            body.clone(),
        ));
        let delay = full_run.mul_f64(moments.next_fraction());
        tokio::time::sleep(delay).await;
        kill_hard(&mut server);
        let _ = request.await;
        println!(
            "{label} serve round {round}: killed after {} ms",
            delay.as_millis()
        );
        (server, address) = start_serve(dir.path(), &backend);
        assert_eq!(
            temporary_files(dir.path()),
            Vec::<String>::new(),
            "{label} serve round {round}: upload folders left after the restart"
        );
        rows = check_tables(&backend, SERVED_LAYER, active, &before, round).await;
        let store = backend.open().await;
        check_store(&store, SERVED_LAYER, &active_info, round).await;
    }
    kill_hard(&mut server);
    println!(
        "{label} serve: {} complete versions, {} incomplete, after {KILLS} kills",
        rows.0, rows.1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_server_keeps_geopackage() {
    let dir = tempfile::tempdir().unwrap();
    kill_servers(Backend::GeoPackage(dir.path().join("state"))).await;
}

/// Needs the PostGIS test database (REPERE_TEST_DATABASE_URL).
#[tokio::test(flavor = "multi_thread")]
async fn killed_server_keeps_postgis() {
    kill_servers(postgis_backend("faults_serve").await).await;
}
