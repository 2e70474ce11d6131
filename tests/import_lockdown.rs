//! What an uploaded file can make GDAL do: imports through
//! `POST /v1/layers/{name}/import` on a `repere serve` process on 127.0.0.1
//! with a GeoPackage store, and GDAL calls in this process once
//! `lock_down_gdal` ran. Every URL a file names points at a TCP listener
//! that the test opens on 127.0.0.1 and that counts the connections made.

mod common;
mod versions_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread::JoinHandle;

use gdal::vector::LayerAccess;
use serde_json::Value;
use versions_support::{Backend, LayerFiles, Server, backends, districts, post_import};

/// A value that only the CSV a VRT points at contains.
const SECRET: &str = "SECRET-VALUE-42";

/// The bytes that tell the listener's thread to stop counting.
const STOP: &[u8] = b"lockdown-test-stop";

/// A TCP listener on 127.0.0.1 whose thread counts the connections it
/// accepts and closes each one at once, so that a client fails fast.
struct Listener {
    address: SocketAddr,
    counter: JoinHandle<usize>,
}

impl Listener {
    fn start() -> Listener {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = socket.local_addr().unwrap();
        let counter = std::thread::spawn(move || count_until_stop(&socket));
        Listener { address, counter }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.address)
    }

    /// Returns the number of connections made before this call. The
    /// listener accepts in arrival order, so every earlier connection is
    /// counted before the one that sends [`STOP`].
    fn connections(self) -> usize {
        let mut stop = TcpStream::connect(self.address).unwrap();
        stop.write_all(STOP).unwrap();
        drop(stop);
        self.counter.join().unwrap()
    }
}

fn count_until_stop(socket: &TcpListener) -> usize {
    let mut count = 0;
    loop {
        let (mut stream, _) = socket.accept().unwrap();
        let mut start = [0u8; STOP.len()];
        // A client that sends fewer bytes before closing is counted too.
        if stream.read_exact(&mut start).is_ok() && start == STOP {
            return count;
        }
        count += 1;
    }
}

const FIELDS: [(&str, &str); 3] = [
    ("kind", "asset"),
    ("id_field", "id"),
    ("name_field", "name"),
];

/// Sends a dry-run import of `file` named `file_name` with `fields` and
/// returns the status and the JSON body.
async fn dry_run_with(
    server: &Server,
    file_name: &str,
    file: &[u8],
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let path_and_query = "/v1/layers/uploaded/import?dry_run=true";
    post_import(server, path_and_query, file_name, file, fields).await
}

/// Sends a dry-run import of a point layer keyed by `id`.
async fn dry_run(server: &Server, file_name: &str, file: &[u8]) -> (u16, Value) {
    dry_run_with(server, file_name, file, &FIELDS).await
}

fn error_message(body: &Value) -> &str {
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
}

async fn geopackage_server() -> (Server, LayerFiles, Backend) {
    let backend = backends("lockdown").await.into_iter().next().unwrap();
    assert_eq!(backend.label(), "geopackage");
    let files = LayerFiles::new("wards", "district");
    files.write(&districts(1, 2));
    let server = Server::start(&files.manifest, &backend);
    (server, files, backend)
}

/// Returns an OGR VRT whose one layer reads the points of `source`.
fn vrt(source: &str) -> String {
    format!(
        "<OGRVRTDataSource>\n  <OGRVRTLayer name=\"secret\">\n    \
         <SrcDataSource>{source}</SrcDataSource>\n    <GeometryType>wkbPoint</GeometryType>\n    \
         <LayerSRS>EPSG:4326</LayerSRS>\n    \
         <GeometryField encoding=\"PointFromColumns\" x=\"lon\" y=\"lat\"/>\n  \
         </OGRVRTLayer>\n</OGRVRTDataSource>\n"
    )
}

/// Writes a CSV of one point whose name is [`SECRET`] and returns its path.
fn write_secret_csv(dir: &Path) -> String {
    let path = dir.join("secret.csv");
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(file, "id,name,lon,lat\n1,{SECRET},-73.6,45.5").unwrap();
    path.display().to_string()
}

/// A GeoJSON collection of one point with the properties `id` and `name`.
const POINT: &str = "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\
                     \"properties\":{\"id\":1,\"name\":\"a\"},\"geometry\":{\"type\":\"Point\",\
                     \"coordinates\":[-73.6,45.5]}}]}";

/// Returns a GeoJSON point collection whose `crs` is a link to `href`.
fn geojson_with_crs_link(href: &str) -> String {
    format!(
        "{{\"type\":\"FeatureCollection\",\"crs\":{{\"type\":\"link\",\"properties\":\
         {{\"href\":\"{href}\",\"type\":\"ogcwkt\"}}}},\"features\":[{{\"type\":\"Feature\",\
         \"properties\":{{\"id\":1,\"name\":\"a\"}},\"geometry\":{{\"type\":\"Point\",\
         \"coordinates\":[-73.6,45.5]}}}}]}}"
    )
}

#[tokio::test]
async fn vrt_rejected_under_any_name() {
    let (server, _files, _backend) = geopackage_server().await;
    let listener = Listener::start();
    let dir = tempfile::tempdir().unwrap();
    let local = vrt(&write_secret_csv(dir.path()));
    let remote = vrt(&format!("/vsicurl/{}", listener.url("secret.csv")));

    for (label, text) in [("local source", &local), ("remote source", &remote)] {
        for file_name in ["points.vrt", "points.geojson"] {
            let (status, body) = dry_run(&server, file_name, text.as_bytes()).await;

            let case = format!("{label}, {file_name}");
            assert_eq!(status, 400, "{case}: {body}");
            assert_eq!(body["error"]["field"], "file", "{case}: {body}");
            let message = error_message(&body);
            assert!(message.contains(file_name), "{case}: {message}");
            assert!(
                message.contains("GeoJSON, ESRI Shapefile, GeoPackage, CSV"),
                "{case}: {message}"
            );
            assert!(!message.contains(SECRET), "{case}: {message}");
        }
    }
    assert_eq!(listener.connections(), 0, "connections to the listener");
}

#[tokio::test]
async fn crs_link_rejected_without_request() {
    let (server, _files, _backend) = geopackage_server().await;
    let listener = Listener::start();
    let href = listener.url("crs.prj");
    let text = geojson_with_crs_link(&href);

    let (status, body) = dry_run(&server, "points.geojson", text.as_bytes()).await;

    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "file", "{body}");
    let message = error_message(&body);
    assert!(message.contains("points.geojson"), "{message}");
    assert!(message.contains(&href), "{message}");
    assert!(message.contains("`crs` setting"), "{message}");
    assert_eq!(listener.connections(), 0, "connections to the listener");
}

/// Writes a zip of `entries` (name and content) with the zip crate.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, data) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[tokio::test]
async fn zip_name_clashes_rejected() {
    let (server, _files, _backend) = geopackage_server().await;
    // The zip crate writes each name once, so the repeated name is made by
    // rewriting a second name of the same length in the archive's bytes.
    let repeated = zip_of(&[("a.geojson", POINT.as_bytes()), ("b.geojson", b"{}")]);
    let needle = b"b.geojson";
    let mut repeated_bytes = repeated.clone();
    for at in 0..=repeated.len() - needle.len() {
        if &repeated[at..at + needle.len()] == needle {
            repeated_bytes[at..at + needle.len()].copy_from_slice(b"a.geojson");
        }
    }
    let cases = [
        (repeated_bytes, "a.geojson", "two entries"),
        (
            zip_of(&[("x", b"text"), ("x/a.geojson", POINT.as_bytes())]),
            "x/a.geojson",
            "both a file and a folder",
        ),
        (
            zip_of(&[("x/a.geojson", POINT.as_bytes()), ("x", b"text")]),
            "x",
            "both a file and a folder",
        ),
    ];

    for (archive, entry, reason) in cases {
        let (status, body) = dry_run(&server, "layer.zip", &archive).await;

        assert_eq!(status, 400, "{entry}: {body}");
        let message = error_message(&body);
        assert!(message.contains("layer.zip"), "{message}");
        assert!(message.contains(&format!("entry {entry:?}")), "{message}");
        assert!(message.contains(reason), "{message}");
    }
}

#[tokio::test]
async fn gdal_warnings_logged_through_tracing() {
    let (server, _files, _backend) = geopackage_server().await;
    let unclosed = "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\
                    \"properties\":{\"id\":\"1\",\"name\":\"a\"},\"geometry\":{\"type\":\"Polygon\",\
                    \"coordinates\":[[[-73.60,45.50],[-73.59,45.50],[-73.59,45.51],[-73.60,45.51]]]}}]}";
    let fields = [
        ("kind", "district"),
        ("id_field", "id"),
        ("name_field", "name"),
    ];
    let (status, body) =
        dry_run_with(&server, "unclosed.geojson", unclosed.as_bytes(), &fields).await;
    assert_eq!(status, 200, "{body}");

    let log = server.stop_with_log();

    let raw: Vec<&String> = log
        .iter()
        .filter(|line| line.starts_with("Warning ") || line.starts_with("ERROR "))
        .collect();
    assert!(raw.is_empty(), "GDAL printed to stderr: {raw:?}");
    let forwarded: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("Non closed ring"))
        .collect();
    assert!(!forwarded.is_empty(), "no GDAL warning in the log: {log:?}");
    for line in forwarded {
        assert!(line.contains("GDAL message"), "{line}");
    }
}

#[test]
fn vsicurl_blocked_after_lockdown() {
    let listener = Listener::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remote.vrt");
    let source = format!("/vsicurl/{}", listener.url("secret.csv"));
    std::fs::write(&path, vrt(&source)).unwrap();
    repere::source::lock_down_gdal();

    // Every driver may open it here, VRT included.
    let opened = gdal::Dataset::open(&path);
    let features = opened.ok().and_then(|dataset| {
        let mut layer = dataset.layer(0).ok()?;
        Some(layer.features().count())
    });
    let direct = gdal::Dataset::open(format!("/vsicurl/{}", listener.url("direct.geojson")));

    assert_ne!(features, Some(1), "the VRT read the remote CSV");
    assert!(direct.is_err(), "/vsicurl/ opened a URL");
    assert_eq!(listener.connections(), 0, "connections to the listener");
}
