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
    let store = backend.open().await;
    let active = store.active_version(layer).await.unwrap().unwrap();

    let seed = seed();
    println!("{layer}: kill moments seed {seed} (REPERE_FAULT_SEED={seed} replays them)");
    let mut moments = Moments(seed);
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
        check_store(&store, layer, &active, round).await;
    }
    let stored = store.versions(layer, Page::first(1000)).await.unwrap();
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
