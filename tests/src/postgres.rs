//! A real PostgreSQL for the tests, from Debian's `postgresql` package:
//! one server per run of the test binary, started on first use in a
//! temp dir (`initdb` and `pg_ctl` as the unprivileged `postgres` user
//! when the tests run as root, since `initdb` refuses root), on a free
//! loopback port with its socket in that dir, TLS on with a certificate of
//! the test CA (so the default `sslmode=prefer` connects over rustls); a
//! fresh database per test.
//! A watcher process stops the server and removes the dir when the test
//! binary exits, however it exits. Without the binaries, PostgreSQL tests
//! print why and pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The running server.
#[derive(Debug)]
pub struct Server {
    bin: PathBuf,
    /// The cluster's data directory and the options it runs with, to stop
    /// and start it again.
    data: PathBuf,
    log: PathBuf,
    options: String,
    pub port: u16,
    /// The test CA's certificate (PEM), for `sslrootcert`.
    pub ca_file: PathBuf,
}

/// How the cluster trades durability for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `fsync=off`, `synchronous_commit=off`, `full_page_writes=off`: the
    /// tests' setting, where a lost cluster is thrown away anyway.
    Scratch,
    /// PostgreSQL's own defaults (`fsync=on`, `synchronous_commit=on`,
    /// `full_page_writes=on`), what a deployment runs: for measurements.
    Durable,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The shared server, or why there is none.
pub fn server() -> Result<&'static Server, String> {
    SERVER
        .get_or_init(|| start(Durability::Scratch))
        .as_ref()
        .map_err(Clone::clone)
}

/// A fresh database's URL (`sslmode` as given, else the default), or
/// `None` after printing why PostgreSQL tests are skipped.
pub fn fresh_database(test: &str) -> Option<String> {
    let server = match server() {
        Ok(server) => server,
        Err(why) => {
            eprintln!("skipped {test} on PostgreSQL: {why}");
            return None;
        }
    };
    let name = format!("t_{}", DATABASES.fetch_add(1, Ordering::Relaxed));
    server.psql("postgres", &format!("CREATE DATABASE {name}"));
    Some(server.url(&name, ""))
}

impl Server {
    /// The URL of database `name`, with `query` (`?sslmode=…`) appended.
    pub fn url(&self, name: &str, query: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}{query}", self.port)
    }

    /// Runs `sql` in database `db`; its output, one row a line, columns
    /// split by `|`.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", db, "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql `{sql}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// The newest installed PostgreSQL's binaries.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn as_owner(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

fn start(durability: Durability) -> Result<Server, String> {
    let bin =
        binaries().ok_or("no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql)")?;
    // A fresh dir and port each run, so a server left by a killed run
    // never stands in the way.
    let dir = tempfile::Builder::new()
        .prefix("sonde-pg-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    let (cert, key, ca_file) = certificates(&dir)?;
    if is_root() {
        let chown = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !chown.success() {
            return Err("cannot give the temp dir to the `postgres` user".into());
        }
    }
    let data = dir.join("data");
    let init = as_owner(&bin, "initdb")
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !init.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("free port: {e}"))?
        .port();
    let speed = match durability {
        Durability::Scratch => "-c fsync=off -c synchronous_commit=off -c full_page_writes=off ",
        Durability::Durable => "-c fsync=on -c synchronous_commit=on -c full_page_writes=on ",
    };
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 {speed}-c max_connections=200 -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        dir.display(),
        cert.display(),
        key.display()
    );
    let server = Server {
        bin,
        log: dir.join("log"),
        data,
        options,
        port,
        ca_file,
    };
    server.start()?;
    watch(&server.bin, &server.data, &dir);
    Ok(server)
}

impl Server {
    /// A server of the calling test's own (same set-up as the shared one),
    /// for tests that stop the database; stopped when dropped.
    ///
    /// # Errors
    /// Why there is none (no binaries, initdb or start failed).
    pub fn own() -> Result<OwnServer, String> {
        start(Durability::Scratch).map(OwnServer)
    }

    /// A server of the caller's own with the given durability (benchmarks
    /// measure with [`Durability::Durable`]); stopped when dropped.
    ///
    /// # Errors
    /// Why there is none (no binaries, initdb or start failed).
    pub fn own_with(durability: Durability) -> Result<OwnServer, String> {
        start(durability).map(OwnServer)
    }

    /// The postmaster's process id (first line of `postmaster.pid`), whose
    /// children are the server's other processes.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Starts the stopped cluster (`pg_ctl start -w`).
    ///
    /// # Errors
    /// When it does not start, with its log.
    pub fn start(&self) -> Result<(), String> {
        let started = as_owner(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-o", &self.options, "-w", "start"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if started.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        Err(format!(
            "pg_ctl start failed: {}{log}",
            String::from_utf8_lossy(&started.stderr)
        ))
    }

    /// Stops the cluster at once (`pg_ctl stop -m fast`: open connections
    /// are cut, as when a database host goes away).
    ///
    /// # Errors
    /// When pg_ctl fails.
    pub fn stop(&self) -> Result<(), String> {
        let stopped = as_owner(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if stopped.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&stopped.stderr)
            ))
        }
    }
}

/// A server one test owns ([`Server::own`]).
#[derive(Debug)]
pub struct OwnServer(Server);

impl std::ops::Deref for OwnServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.0
    }
}

impl OwnServer {
    /// A fresh database on it: its URL.
    pub fn database(&self, name: &str) -> String {
        self.0.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.0.url(name, "")
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.0.stop();
    }
}

/// The server's certificate and key (issued by the test CA for
/// `localhost` and `127.0.0.1`) and the CA's certificate, written in `dir`.
fn certificates(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf), String> {
    use std::os::unix::fs::PermissionsExt;
    let leaf = crate::test_ca()
        .leaf(crate::TlsKind::Valid)
        .map_err(|e| format!("test certificate: {e}"))?;
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(&cert, &format!("{}{}", leaf.cert_pem, crate::ca_pem()))?;
    write(&key, &leaf.key_pem)?;
    // The server refuses a key others may read.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", key.display()))?;
    let ca = crate::write_ca_pem(dir).map_err(|e| format!("test CA: {e}"))?;
    Ok((cert, key, ca))
}

/// Starts a process that waits for this one to exit, then stops the
/// server and removes its dir (a static's Drop never runs at exit).
fn watch(bin: &Path, data: &Path, dir: &Path) {
    let prefix = if is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {prefix}{pg_ctl} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let spawned = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!(
            "note: the test PostgreSQL in {} will not be stopped: {e}",
            dir.display()
        );
    }
}
