//! Service configuration, layered: built-in defaults, then one TOML file
//! (`--config FILE` or `REPERE_CONFIG`), then `REPERE_*` environment
//! variables, then command-line flags. A later layer overrides an earlier one
//! key by key.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! manifest = "data/layers.toml"   # relative to this file's folder
//! request_timeout_s = 10
//! max_body_bytes = 1048576
//! max_batch = 1000
//! max_batch_response_bytes = 33554432  # largest POST /v1/context/batch response
//! log_filter = "info"
//! state_dir = "state"             # relative to this file's folder
//! # database_url = "postgres://…"  # PostGIS store; else state_dir/repere.gpkg
//! version_check_s = 5
//! max_upload_bytes = 268435456    # largest file POST /v1/layers/{name}/import accepts
//! open_reads = false              # default: true when no [[token]] is configured
//!
//! [[token]]                       # see crate::auth
//! name = "gis-team"
//! roles = ["read", "gis"]
//! sha256 = "…"                    # `repere token hash` prints it
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::auth::{Access, TokenConfig};

/// Default of [`Config::listen`]: loopback only, so a first run exposes nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_MANIFEST: &str = "data/layers.toml";
pub const DEFAULT_REQUEST_TIMEOUT_S: u64 = 10;
/// 1 MiB: a batch of 1,000 requests takes about 100 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_MAX_BATCH: usize = 1000;
/// 32 MiB: a batch of 1,000 requests with radius_m 5,000 and limit 100 can
/// otherwise build a response of over 100 MB in memory.
pub const DEFAULT_MAX_BATCH_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
pub const DEFAULT_LOG_FILTER: &str = "info";
pub const DEFAULT_STATE_DIR: &str = "state";
pub const DEFAULT_VERSION_CHECK_S: u64 = 5;
/// 256 MiB: larger than the city layers imported so far by two orders of
/// magnitude.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}={value:?} is invalid: {message}")]
    Env {
        name: &'static str,
        value: String,
        message: String,
    },
    #[error("{key} = {value} is invalid: {message}")]
    Value {
        key: &'static str,
        value: String,
        message: String,
    },
}

/// The settings of the service and of the commands that read layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Socket address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The layer manifest. In the config file a relative path is relative to
    /// the file's folder; from the environment or a flag, to the working
    /// directory.
    pub manifest: PathBuf,
    /// Time a request may take from its headers to its response, seconds.
    pub request_timeout_s: u64,
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// Largest number of requests in one `POST /v1/context/batch`.
    pub max_batch: usize,
    /// Largest response of one `POST /v1/context/batch`, bytes. A batch
    /// whose response would be larger fails with 413.
    pub max_batch_response_bytes: usize,
    /// `tracing` filter directives, e.g. `info,repere=debug`.
    pub log_filter: String,
    /// Folder of the GeoPackage layer store, used when `database_url` is unset.
    pub state_dir: PathBuf,
    /// PostgreSQL URL of the PostGIS layer store (`DATABASE_URL`).
    pub database_url: Option<String>,
    /// Period of the check for layer versions activated by other
    /// processes, seconds. With PostGIS, notices apply them sooner.
    pub version_check_s: u64,
    /// Access tokens and whether reads need one.
    pub access: Access,
    /// Largest file accepted by the import route, bytes.
    pub max_upload_bytes: usize,
    /// Keys of the config file that no setting reads, such as `listn`:
    /// logged as a warning at start-up, not fatal.
    pub unknown_keys: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.parse().expect("the default address parses"),
            manifest: PathBuf::from(DEFAULT_MANIFEST),
            request_timeout_s: DEFAULT_REQUEST_TIMEOUT_S,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch: DEFAULT_MAX_BATCH,
            max_batch_response_bytes: DEFAULT_MAX_BATCH_RESPONSE_BYTES,
            log_filter: DEFAULT_LOG_FILTER.to_owned(),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            database_url: None,
            version_check_s: DEFAULT_VERSION_CHECK_S,
            access: Access::default(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            unknown_keys: Vec::new(),
        }
    }
}

/// One layer of settings, where an absent key leaves the value below it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConfigLayer {
    pub listen: Option<SocketAddr>,
    pub manifest: Option<PathBuf>,
    pub request_timeout_s: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub max_batch: Option<usize>,
    pub max_batch_response_bytes: Option<usize>,
    pub log_filter: Option<String>,
    pub state_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub version_check_s: Option<u64>,
    pub max_upload_bytes: Option<usize>,
    pub open_reads: Option<bool>,
    /// The `[[token]]` entries; only the config file sets them.
    #[serde(rename = "token")]
    pub tokens: Option<Vec<TokenConfig>>,
}

impl Config {
    /// Builds the configuration from the defaults, the optional file, the
    /// environment as `env` reads it (`std::env::var(..).ok()` in the
    /// program) and the command-line `flags`, then checks the values.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: ConfigLayer,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(path) = file {
            let (mut layer, unknown_keys) = read_file(path)?;
            config.access = access(path, layer.tokens.take(), layer.open_reads)?;
            config.apply(layer);
            config.unknown_keys = unknown_keys;
        }
        config.apply(from_env(env)?);
        config.apply(flags);
        config.check()?;
        Ok(config)
    }

    fn apply(&mut self, layer: ConfigLayer) {
        if let Some(listen) = layer.listen {
            self.listen = listen;
        }
        if let Some(manifest) = layer.manifest {
            self.manifest = manifest;
        }
        if let Some(seconds) = layer.request_timeout_s {
            self.request_timeout_s = seconds;
        }
        if let Some(bytes) = layer.max_body_bytes {
            self.max_body_bytes = bytes;
        }
        if let Some(count) = layer.max_batch {
            self.max_batch = count;
        }
        if let Some(bytes) = layer.max_batch_response_bytes {
            self.max_batch_response_bytes = bytes;
        }
        if let Some(filter) = layer.log_filter {
            self.log_filter = filter;
        }
        if let Some(dir) = layer.state_dir {
            self.state_dir = dir;
        }
        if let Some(url) = layer.database_url {
            self.database_url = Some(url);
        }
        if let Some(seconds) = layer.version_check_s {
            self.version_check_s = seconds;
        }
        if let Some(bytes) = layer.max_upload_bytes {
            self.max_upload_bytes = bytes;
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        let at_least_one = |key: &'static str, value: u64| {
            if value == 0 {
                return Err(ConfigError::Value {
                    key,
                    value: value.to_string(),
                    message: "expected 1 or more".to_owned(),
                });
            }
            Ok(())
        };
        at_least_one("request_timeout_s", self.request_timeout_s)?;
        at_least_one("max_body_bytes", self.max_body_bytes as u64)?;
        at_least_one("max_batch", self.max_batch as u64)?;
        at_least_one(
            "max_batch_response_bytes",
            self.max_batch_response_bytes as u64,
        )?;
        at_least_one("max_upload_bytes", self.max_upload_bytes as u64)?;
        at_least_one("version_check_s", self.version_check_s)
    }
}

/// Checks the `[[token]]` entries of the config file at `path`.
fn access(
    path: &Path,
    tokens: Option<Vec<TokenConfig>>,
    open_reads: Option<bool>,
) -> Result<Access, ConfigError> {
    Access::new(&tokens.unwrap_or_default(), open_reads).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Reads a config file; a relative `manifest` becomes relative to its folder.
fn read_file(path: &Path) -> Result<(ConfigLayer, Vec<String>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut unknown_keys = Vec::new();
    let deserializer = toml::Deserializer::new(&text);
    let mut layer: ConfigLayer = serde_ignored::deserialize(deserializer, |key| {
        unknown_keys.push(key.to_string());
    })
    .map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let folder = path.parent().unwrap_or(Path::new("."));
    layer.manifest = layer.manifest.map(|manifest| folder.join(manifest));
    layer.state_dir = layer.state_dir.map(|dir| folder.join(dir));
    Ok((layer, unknown_keys))
}

/// Reads the `REPERE_*` variables that are set.
fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<ConfigLayer, ConfigError> {
    Ok(ConfigLayer {
        listen: env_value(
            &env,
            "REPERE_LISTEN",
            "expected an address such as 127.0.0.1:8080",
        )?,
        manifest: env("REPERE_MANIFEST").map(PathBuf::from),
        request_timeout_s: env_value(&env, "REPERE_REQUEST_TIMEOUT_S", "expected whole seconds")?,
        max_body_bytes: env_value(&env, "REPERE_MAX_BODY_BYTES", "expected a number of bytes")?,
        max_batch: env_value(&env, "REPERE_MAX_BATCH", "expected a number of requests")?,
        max_batch_response_bytes: env_value(
            &env,
            "REPERE_MAX_BATCH_RESPONSE_BYTES",
            "expected a number of bytes",
        )?,
        log_filter: env("REPERE_LOG"),
        state_dir: env("REPERE_STATE_DIR").map(PathBuf::from),
        database_url: env("DATABASE_URL"),
        version_check_s: env_value(&env, "REPERE_VERSION_CHECK_S", "expected whole seconds")?,
        max_upload_bytes: env_value(
            &env,
            "REPERE_MAX_UPLOAD_BYTES",
            "expected a number of bytes",
        )?,
        open_reads: None,
        tokens: None,
    })
}

fn env_value<T: FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    expected: &str,
) -> Result<Option<T>, ConfigError> {
    let Some(value) = env(name) else {
        return Ok(None);
    };
    match value.trim().parse() {
        Ok(parsed) => Ok(Some(parsed)),
        Err(_) => Err(ConfigError::Env {
            name,
            value,
            message: expected.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repere.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn defaults_without_sources() {
        let config = Config::load(None, no_env, ConfigLayer::default()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.manifest, Path::new("data/layers.toml"));
        assert_eq!(config.request_timeout_s, 10);
        assert_eq!(config.max_body_bytes, 1_048_576);
        assert_eq!(config.max_batch, 1000);
    }

    #[test]
    fn file_then_env_then_flags() {
        let (_dir, path) =
            write_config("listen = \"127.0.0.1:9000\"\nmax_batch = 10\nrequest_timeout_s = 3\n");
        let env: HashMap<&str, &str> = HashMap::from([
            ("REPERE_MAX_BATCH", "20"),
            ("REPERE_LISTEN", "127.0.0.1:9001"),
        ]);
        let flags = ConfigLayer {
            listen: Some("127.0.0.1:9002".parse().unwrap()),
            ..ConfigLayer::default()
        };
        let config =
            Config::load(Some(&path), |k| env.get(k).map(|v| v.to_string()), flags).unwrap();
        assert_eq!(config.request_timeout_s, 3, "file over default");
        assert_eq!(config.max_batch, 20, "environment over file");
        assert_eq!(
            config.listen.to_string(),
            "127.0.0.1:9002",
            "flag over environment"
        );
    }

    #[test]
    fn manifest_relative_to_file() {
        let (dir, path) = write_config("manifest = \"layers.toml\"\n");
        let config = Config::load(Some(&path), no_env, ConfigLayer::default()).unwrap();
        assert_eq!(config.manifest, dir.path().join("layers.toml"));
    }

    #[test]
    fn unknown_keys_listed() {
        let (_dir, path) = write_config("listn = \"127.0.0.1:1\"\nmax_batch = 5\n");
        let config = Config::load(Some(&path), no_env, ConfigLayer::default()).unwrap();
        assert_eq!(config.unknown_keys, vec!["listn".to_owned()]);
        assert_eq!(config.max_batch, 5);
    }

    #[test]
    fn bad_env_value_named() {
        let env = |k: &str| (k == "REPERE_MAX_BATCH").then(|| "many".to_owned());
        let err = Config::load(None, env, ConfigLayer::default()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("REPERE_MAX_BATCH"), "{message}");
        assert!(message.contains("\"many\""), "{message}");
    }

    #[test]
    fn batch_response_bound_layered() {
        let config = Config::load(None, no_env, ConfigLayer::default()).unwrap();
        assert_eq!(config.max_batch_response_bytes, 33_554_432, "default");

        let (_dir, path) = write_config("max_batch_response_bytes = 1000\n");
        let config = Config::load(Some(&path), no_env, ConfigLayer::default()).unwrap();
        assert_eq!(config.max_batch_response_bytes, 1000, "file over default");

        let env = |k: &str| (k == "REPERE_MAX_BATCH_RESPONSE_BYTES").then(|| "2000".to_owned());
        let config = Config::load(Some(&path), env, ConfigLayer::default()).unwrap();
        assert_eq!(
            config.max_batch_response_bytes, 2000,
            "environment over file"
        );

        let flags = ConfigLayer {
            max_batch_response_bytes: Some(3000),
            ..ConfigLayer::default()
        };
        let config = Config::load(Some(&path), env, flags).unwrap();
        assert_eq!(
            config.max_batch_response_bytes, 3000,
            "flag over environment"
        );
    }

    #[test]
    fn zero_batch_response_bound_rejected() {
        let env = |k: &str| (k == "REPERE_MAX_BATCH_RESPONSE_BYTES").then(|| "0".to_owned());
        let err = Config::load(None, env, ConfigLayer::default()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("max_batch_response_bytes = 0"),
            "{message}"
        );
        assert!(message.contains("expected 1 or more"), "{message}");
    }

    #[test]
    fn zero_timeout_rejected() {
        let (_dir, path) = write_config("request_timeout_s = 0\n");
        let err = Config::load(Some(&path), no_env, ConfigLayer::default()).unwrap_err();
        assert!(err.to_string().contains("request_timeout_s = 0"), "{err}");
    }

    #[test]
    fn tokens_read_from_file() {
        // `printf %s secret | sha256sum`
        let hash = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
        let text = format!("[[token]]\nname = \"gis\"\nroles = [\"gis\"]\nsha256 = \"{hash}\"\n");
        let (_dir, path) = write_config(&text);
        let config = Config::load(Some(&path), no_env, ConfigLayer::default()).unwrap();
        let caller = config
            .access
            .authorize(Some(b"Bearer secret"), crate::auth::Role::Gis)
            .unwrap();
        assert_eq!(caller.name, "gis");
        let read = config.access.authorize(None, crate::auth::Role::Read);
        assert!(read.is_err(), "reads close once a token is configured");
    }

    #[test]
    fn bad_token_hash_names_file() {
        let (_dir, path) =
            write_config("[[token]]\nname = \"gis\"\nroles = [\"gis\"]\nsha256 = \"secret\"\n");
        let message = Config::load(Some(&path), no_env, ConfigLayer::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("repere.toml"), "{message}");
        assert!(message.contains("\"secret\""), "{message}");
    }

    #[test]
    fn wrong_type_names_file() {
        let (_dir, path) = write_config("max_batch = \"ten\"\n");
        let err = Config::load(Some(&path), no_env, ConfigLayer::default()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("repere.toml"), "{message}");
        assert!(message.contains("max_batch"), "{message}");
    }
}
