//! Request handling of `POST /v1/layers/{name}/import` over real HTTP: form
//! limits, form fields checked as their part headers arrive, query
//! parameters and the wording of rejections. Each test starts `repere
//! serve` on 127.0.0.1 with a GeoPackage store and `max_upload_bytes` of
//! 1 MiB; some requests are written on a raw TCP socket, to control the
//! declared length and to stop sending part-way through a body.

mod versions_support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use versions_support::{Backend, LayerFiles, Server, TOKEN, districts};

const BOUNDARY: &str = "import-requests-boundary-81f4";

/// `max_upload_bytes` of every server here: 1 MiB.
const MAX_UPLOAD_BYTES: usize = 1_048_576;

/// A server over an empty GeoPackage store with one served layer, `wards`.
struct Fixture {
    server: Server,
    _files: LayerFiles,
    _backend: Backend,
}

fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    let backend = Backend::GeoPackage { dir, state_dir };
    let files = LayerFiles::new("wards", "district");
    files.write(&districts(1, 2));
    let settings = format!("max_upload_bytes = {MAX_UPLOAD_BYTES}");
    let server = Server::start_with_settings(&files.manifest, &backend, &settings);
    Fixture {
        server,
        _files: files,
        _backend: backend,
    }
}

/// A GeoJSON file of two districts with `id` and `name` properties.
fn districts_file() -> Vec<u8> {
    serde_json::to_vec(&districts(2, 2)).unwrap()
}

/// The options that read [`districts_file`].
const DISTRICT_OPTIONS: [(&str, &str); 3] = [
    ("kind", "district"),
    ("id_field", "id"),
    ("name_field", "name"),
];

fn text_part(name: &str, value: &str) -> Vec<u8> {
    format!("--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
        .into_bytes()
}

fn file_part(file_name: &str, file: &[u8]) -> Vec<u8> {
    let mut part = format!(
        "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"file\"; \
         filename=\"{file_name}\"\r\ncontent-type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    part.extend_from_slice(file);
    part.extend_from_slice(b"\r\n");
    part
}

fn end_of_form() -> Vec<u8> {
    format!("--{BOUNDARY}--\r\n").into_bytes()
}

/// A whole form: the text parts `fields`, then `districts.geojson`.
fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(text_part(name, value));
    }
    body.extend(file_part("districts.geojson", &districts_file()));
    body.extend(end_of_form());
    body
}

/// POSTs `body` as a multipart form to `path` and returns the status and
/// the JSON body.
async fn post_form(server: &Server, path: &str, body: Vec<u8>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .bearer_auth(TOKEN)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The request head of a form sent to `path`, with `length` as either a
/// `content-length` or `transfer-encoding` header.
fn request_head(server: &Server, path: &str, length: &str) -> String {
    let host = server.base.trim_start_matches("http://");
    format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: multipart/form-data; boundary={BOUNDARY}\r\n{length}\r\n\
         connection: close\r\n\r\n"
    )
}

/// Wraps `data` as one chunk of a chunked body.
fn chunk(data: &[u8]) -> Vec<u8> {
    let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
    framed.extend_from_slice(data);
    framed.extend_from_slice(b"\r\n");
    framed
}

/// Writes `head` and `body` on a new connection, leaving the body unfinished
/// when it is, and returns the status and JSON body of the response. A write
/// error is ignored, because the server may respond and close before it has
/// read everything.
fn send_raw(server: &Server, head: &str, body: &[u8]) -> (u16, Value) {
    let address = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    // Only a guard against a server that waits for the rest of the body,
    // which would leave this test blocked.
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let response = read_response(&mut stream);
    parse_response(&response)
}

/// Reads until the end of the response: its content length, end of file or
/// a reset that follows it.
fn read_response(stream: &mut TcpStream) -> Vec<u8> {
    let mut response = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return response,
            Ok(n) => response.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !response.is_empty() => {
                return response;
            }
            Err(e) => panic!("reading the response failed after {response:?}: {e}"),
        }
        if is_complete(&response) {
            return response;
        }
    }
}

fn is_complete(response: &[u8]) -> bool {
    let Some((head, body)) = split_head(response) else {
        return false;
    };
    content_length(head).is_some_and(|length| body.len() >= length)
}

fn split_head(response: &[u8]) -> Option<(&str, &[u8])> {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..end]).ok()?;
    Some((head, &response[end + 4..]))
}

fn content_length(head: &str) -> Option<usize> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
}

fn parse_response(response: &[u8]) -> (u16, Value) {
    let (head, body) = split_head(response)
        .unwrap_or_else(|| panic!("incomplete response: {}", String::from_utf8_lossy(response)));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let length = content_length(head).expect("the response has a content-length");
    (status, serde_json::from_slice(&body[..length]).unwrap())
}

fn message(body: &Value) -> &str {
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
}

/// Only the part header of an unknown field and a few bytes of its value
/// are sent: the server responds without the rest of the body.
#[tokio::test]
async fn unknown_field_rejected_at_header() {
    let fixture = start();
    let mut start_of_form = text_part("kind", "district");
    start_of_form.extend(
        format!("--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"colour\"\r\n\r\nblue")
            .into_bytes(),
    );
    let head = request_head(
        &fixture.server,
        "/v1/layers/roads/import",
        "transfer-encoding: chunked",
    );

    let (status, body) = send_raw(&fixture.server, &head, &chunk(&start_of_form));
    fixture.server.stop();

    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "colour", "{body}");
    let text = message(&body);
    assert!(text.contains("unknown form field \"colour\""), "{text}");
    assert!(text.contains("`file`"), "{text}");
    assert!(text.contains("kind, id_field, name_field, crs"), "{text}");
    assert!(text.contains("datetime_format, timezone"), "{text}");
}

/// The first file would be valid: a second `file` part is rejected rather
/// than ignored, and no version is stored.
#[tokio::test]
async fn second_file_part_rejected() {
    let fixture = start();
    let mut body = Vec::new();
    for (name, value) in DISTRICT_OPTIONS {
        body.extend(text_part(name, value));
    }
    body.extend(file_part("first.geojson", &districts_file()));
    body.extend(file_part("second.geojson", &districts_file()));
    body.extend(end_of_form());

    let (status, error) = post_form(&fixture.server, "/v1/layers/roads/import", body).await;
    let versions = reqwest::Client::new()
        .get(format!("{}/v1/layers/roads/versions", fixture.server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let versions_status = versions.status().as_u16();
    fixture.server.stop();

    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["field"], "file", "{error}");
    let text = message(&error);
    assert!(text.contains("second `file` part"), "{text}");
    assert_eq!(versions_status, 404, "no version of roads is stored");
}

#[tokio::test]
async fn repeated_option_rejected() {
    let fixture = start();
    let mut fields = DISTRICT_OPTIONS.to_vec();
    fields.push(("kind", "asset"));

    let (status, body) = post_form(
        &fixture.server,
        "/v1/layers/roads/import?dry_run=true",
        form(&fields),
    )
    .await;
    fixture.server.stop();

    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "kind", "{body}");
    assert!(message(&body).contains("repeated"), "{body}");
}

/// The limit of the whole form is 1 MiB plus 320 KiB (256 KiB of text
/// fields, 64 KiB of part headers). The request declares 2 MiB and sends no body.
#[tokio::test]
async fn declared_length_over_limit() {
    let fixture = start();
    let head = request_head(
        &fixture.server,
        "/v1/layers/roads/import",
        "content-length: 2097152",
    );

    let (status, body) = send_raw(&fixture.server, &head, b"");
    fixture.server.stop();

    assert_eq!(status, 413, "{body}");
    let text = message(&body);
    assert!(text.contains("max_upload_bytes = 1048576"), "{text}");
    assert!(text.contains("1376256 bytes"), "{text}");
}

/// A chunked body declares no length. Its file part is exactly 1 MiB, its
/// text fields 240,000 bytes, each under the limit, and 1,500 empty `keep`
/// parts add about 130 KB of part headers: the body passes 1,376,256 bytes.
#[tokio::test]
async fn streamed_form_over_limit() {
    let fixture = start();
    let mut body = Vec::new();
    for (name, value) in DISTRICT_OPTIONS {
        body.extend(text_part(name, value));
    }
    for _ in 0..4 {
        body.extend(text_part("keep", &"a,".repeat(30_000)));
    }
    for _ in 0..1500 {
        body.extend(text_part("keep", ""));
    }
    body.extend(file_part("big.geojson", &vec![b' '; MAX_UPLOAD_BYTES]));
    body.extend(end_of_form());
    assert!(body.len() > MAX_UPLOAD_BYTES + 320 * 1024, "{}", body.len());
    let head = request_head(
        &fixture.server,
        "/v1/layers/roads/import",
        "transfer-encoding: chunked",
    );
    let mut chunked: Vec<u8> = body.chunks(16 * 1024).flat_map(chunk).collect();
    chunked.extend_from_slice(b"0\r\n\r\n");

    let (status, error) = send_raw(&fixture.server, &head, &chunked);
    fixture.server.stop();

    assert_eq!(status, 413, "{error}");
    let text = message(&error);
    assert!(text.contains("import form"), "{text}");
    assert!(text.contains("max_upload_bytes = 1048576"), "{text}");
}

/// One byte over `max_upload_bytes`, in a form under the form limit.
#[tokio::test]
async fn file_over_upload_limit() {
    let fixture = start();
    let mut body = Vec::new();
    for (name, value) in DISTRICT_OPTIONS {
        body.extend(text_part(name, value));
    }
    body.extend(file_part("big.geojson", &vec![b' '; MAX_UPLOAD_BYTES + 1]));
    body.extend(end_of_form());

    let (status, error) = post_form(&fixture.server, "/v1/layers/roads/import", body).await;
    fixture.server.stop();

    assert_eq!(status, 413, "{error}");
    let text = message(&error);
    assert!(text.contains("1048576 bytes"), "{text}");
    assert!(text.contains("max_upload_bytes"), "{text}");
}

#[tokio::test]
async fn invalid_form_message() {
    let fixture = start();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/layers/roads/import", fixture.server.base))
        .bearer_auth(TOKEN)
        .header("content-type", "multipart/form-data")
        .body("kind=district")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    fixture.server.stop();

    assert_eq!(status, 400, "{body}");
    let text = message(&body);
    assert!(text.starts_with("invalid multipart form: "), "{text}");
    assert!(!text.contains("JSON"), "{text}");
}

#[tokio::test]
async fn layer_name_named_once() {
    let fixture = start();

    let (status, body) = post_form(
        &fixture.server,
        "/v1/layers/Qa/import?dry_run=true",
        form(&DISTRICT_OPTIONS),
    )
    .await;
    fixture.server.stop();

    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "name", "{body}");
    let text = message(&body);
    assert_eq!(text.matches("layer name \"Qa\"").count(), 1, "{text}");
    assert!(text.contains("lowercase letter"), "{text}");
}

/// A line feed and a NUL in the layer name reach the service decoded.
#[tokio::test]
async fn layer_name_cannot_forge_log() {
    let fixture = start();

    let (status, body) = post_form(
        &fixture.server,
        "/v1/layers/x%0Aforged%20line%00/import?dry_run=true",
        form(&DISTRICT_OPTIONS),
    )
    .await;
    let log = fixture.server.stop_with_log();

    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "name", "{body}");
    for line in &log {
        assert!(
            !line.starts_with("forged line"),
            "forged log line: {line:?}"
        );
        assert!(!line.contains('\0'), "NUL in log line: {line:?}");
    }
}

/// The option at fault is the error's field: `id_field` names no column,
/// `crs` no CRS, and `kind` is missing.
#[tokio::test]
async fn option_errors_name_field() {
    let fixture = start();
    let cases: [(&str, Vec<(&str, &str)>, &str); 3] = [
        (
            "id_field",
            vec![
                ("kind", "district"),
                ("id_field", "code"),
                ("name_field", "name"),
            ],
            "\"code\" is not a column",
        ),
        (
            "crs",
            vec![
                ("kind", "district"),
                ("id_field", "id"),
                ("name_field", "name"),
                ("crs", "EPSG:999999"),
            ],
            "EPSG:999999",
        ),
        (
            "kind",
            vec![("id_field", "id"), ("name_field", "name")],
            "district, asset or work",
        ),
    ];

    let mut answers = Vec::new();
    for (_, fields, _) in &cases {
        let path = "/v1/layers/roads/import?dry_run=true";
        answers.push(post_form(&fixture.server, path, form(fields)).await);
    }
    fixture.server.stop();

    for ((field, _, part), (status, body)) in cases.iter().zip(&answers) {
        assert_eq!(*status, 400, "{field}: {body}");
        assert_eq!(body["error"]["field"], *field, "{body}");
        let text = message(body);
        assert!(text.contains(part), "{field}: {text}");
    }
}

#[tokio::test]
async fn query_parameters_checked() {
    let fixture = start();
    let cases = [
        ("dry_run=yes", "dry_run", "\"yes\""),
        ("dry_run=true&activate=true", "activate", "dry_run=true"),
    ];

    let mut answers = Vec::new();
    for (query, _, _) in cases {
        let path = format!("/v1/layers/roads/import?{query}");
        answers.push(post_form(&fixture.server, &path, form(&DISTRICT_OPTIONS)).await);
    }
    fixture.server.stop();

    for ((query, field, part), (status, body)) in cases.iter().zip(&answers) {
        assert_eq!(*status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], *field, "{query}: {body}");
        let text = message(body);
        assert!(text.starts_with(&format!("{field}: ")), "{query}: {text}");
        assert!(text.contains(part), "{query}: {text}");
    }
    let dry_run_message = message(&answers[0].1);
    assert!(
        dry_run_message.contains("true or false"),
        "{dry_run_message}"
    );
}
