//! What the request log contains: the route, never a location sent in the path.

mod http_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use http_support::*;

/// A log sink that the test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The test runs on one thread, where the server task runs too, so the
/// subscriber set for this thread sees every request span.
#[tokio::test(flavor = "current_thread")]
async fn unrouted_path_not_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let base = serve_catalog().await;
    let response = reqwest::get(format!("{base}/v1/context/45.5123,-73.6456"))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(response.status(), 200);

    let log = captured.text();
    assert!(log.contains("request finished"), "log: {log}");
    assert!(!log.contains("45.5123"), "latitude in the log: {log}");
    assert!(!log.contains("73.6456"), "longitude in the log: {log}");
    assert!(log.contains(r#"path="<unmatched>""#), "log: {log}");
    assert!(log.contains(r#"path="/health""#), "log: {log}");
}
