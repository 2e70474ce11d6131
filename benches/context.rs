//! Time of one context on the default data (data/layers.toml): every layer,
//! default radius and limits, points spread over Montréal and Laval.
//!
//! Run with `cargo bench --bench context`.

mod support;

use std::path::Path;

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use repere::catalog::Catalog;
use repere::context::{self, ContextRequest};
use repere::manifest::Manifest;


fn load_default_catalog() -> Catalog {
    let manifest_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/layers.toml");
    let manifest = Manifest::load(&manifest_path).expect("data/layers.toml loads");
    Catalog::load(&manifest).expect("the default layers load")
}

fn bench_context(c: &mut Criterion) {
    let catalog = load_default_catalog();
    let now = Utc::now();
    let queries: Vec<_> = support::sample_points(1000)
        .into_iter()
        .map(|(lat, lon)| {
            let request = ContextRequest {
                lat,
                lon,
                ..ContextRequest::default()
            };
            request.validate(&catalog, now).expect("valid request")
        })
        .collect();

    let mut group = c.benchmark_group("context");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("compute", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            context::context(&catalog, &queries[i]).layers.len()
        })
    });
    group.bench_function("compute_and_serialize", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            let response = context::context(&catalog, &queries[i]);
            serde_json::to_vec(&response).expect("serializable").len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_context);
criterion_main!(benches);
