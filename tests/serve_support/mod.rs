//! `repere serve` as a child process on a free port of 127.0.0.1.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts `repere serve --listen 127.0.0.1:0` with the extra arguments
/// `args`, waits until it logs that its layers are ready and returns it with
/// its address. The config file and database URL of the environment are
/// ignored. A thread reads the server's log until it exits, so that the
/// server never blocks on a full pipe.
pub fn start_serve<I, S>(args: I) -> (Child, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    start_serve_with_env(args, &[])
}

/// Starts `repere serve` as [`start_serve`] does, with the extra
/// environment variables `env`, such as `TMPDIR`.
pub fn start_serve_with_env<I, S>(args: I, env: &[(&str, &OsStr)]) -> (Child, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_repere"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .env("REPERE_LOG", "info")
        .env_remove("REPERE_CONFIG")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start repere serve");
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
    std::thread::spawn(move || for _ in lines {});
    let address = address.expect("the server exited before logging its address");
    (child, address)
}
