//! What the end-to-end tests (`tests/`) and the desktop benchmark
//! (`benches/`) share: the built binaries they start; tauri-driver, which
//! starts a window through WebKitWebDriver for a WebDriver session; and a
//! team server's processes and database.

use fantoccini::{Client, ClientBuilder};
use serde_json::{Map, json};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A built binary: the path in the environment variable `var`, or
/// `target/debug/<default>`. Fails, saying how to build it, when missing.
pub fn built(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/debug")
            .join(default)
    });
    assert!(
        path.exists(),
        "{} is not built; scripts/test builds the app (with --features custom-protocol) \
         and scripts/bench-window the bare window",
        path.display()
    );
    path
}

/// tauri-driver on a free port, stopped when dropped.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// tauri-driver for an app that keeps its log in `dir`/logs and may use
    /// files in `dir` without asking (`PANELKEEPER_TRUSTED_DIR`: typed
    /// paths elsewhere would need a native confirmation no WebDriver can click).
    pub fn start(dir: &Path) -> Driver {
        Driver::start_with(dir, &[])
    }

    /// [`Driver::start`] with more of the app's environment (`GTK_THEME`
    /// for the desktop's dark setting).
    pub fn start_with(dir: &Path, env: &[(&str, &str)]) -> Driver {
        let (port, native) = (free_port(), free_port());
        // Its own process group, so dropping the driver also stops the
        // WebKitWebDriver and app it started, even when a test fails.
        let child = Command::new("tauri-driver")
            .envs(env.iter().copied())
            .env("PANELKEEPER_TRUSTED_DIR", dir)
            .env("PANELKEEPER_LOG_DIR", dir.join("logs"))
            // The app's own data (the web view's storage: the viewer's
            // zone) kept per test, as on a computer of its own.
            .env("XDG_DATA_HOME", dir.join("data"))
            .process_group(0)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tauri-driver is not on PATH; scripts/setup installs it with cargo install");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "tauri-driver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }

    /// A WebDriver session with `application` started with `args`: its
    /// window, once its first page has loaded.
    pub async fn session(&self, application: &Path, args: &[&str]) -> Client {
        let mut caps = Map::new();
        caps.insert(
            "tauri:options".into(),
            json!({ "application": application, "args": args }),
        );
        ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session with the window")
    }

    /// tauri-driver's process id: the window's process and the WebKit
    /// processes it starts are under it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process in its own group, stopped with everything it started.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

/// Prints the logs the app and the team server keep in `dir`/logs when
/// it is dropped while a test fails: they go with the test's folder.
pub struct LogsOnFailure(pub PathBuf);

impl Drop for LogsOnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Ok(files) = std::fs::read_dir(self.0.join("logs")) else {
            return;
        };
        for file in files.flatten() {
            let text = std::fs::read_to_string(file.path()).unwrap_or_default();
            eprintln!("---- {} ----\n{text}", file.path().display());
        }
    }
}

pub fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where a test's team server keeps its panel: a database of its own
/// (named after the test, `what`) on the run's PostgreSQL server
/// (`PANELKEEPER_TEST_PG`), or a panel file in `dir`.
pub fn team_location(dir: &Path, what: &str) -> String {
    let Ok(server) = std::env::var("PANELKEEPER_TEST_PG") else {
        return dir.join("panel.db").display().to_string();
    };
    let name = format!(
        "{what}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let made = Command::new("psql")
        .arg(format!("{server}/postgres"))
        .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql");
    assert!(made.success());
    format!("{server}/{name}")
}

/// `panelkeeper serve` on 127.0.0.1:`port` over the panel `db`, with the web
/// app, its data and log in `dir`; listening when this returns.
pub fn team_server(db: &str, port: u16, dir: &Path) -> Running {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    let running = Running(
        Command::new(built("PANELKEEPER_CLI", "panelkeeper"))
            .args([
                "--db",
                db,
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--ui")
            .arg(&ui)
            .env("XDG_DATA_HOME", dir)
            .env("PANELKEEPER_LOG_DIR", dir.join("logs"))
            .process_group(0)
            .stdout(Stdio::null())
            .spawn()
            .expect("panelkeeper serve"),
    );
    wait_for_port(port, "panelkeeper serve");
    running
}

/// A port on 127.0.0.1 nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// PSS in bytes of the window's process and every process under
/// tauri-driver, leaving out the two WebDriver processes themselves.
pub fn memory(driver: &Driver) -> u64 {
    memory_by_process(driver).iter().map(|(_, b)| b).sum()
}

/// [`memory`] by process name (the app, WebKitWebProcess,
/// WebKitNetworkProcess), to see which one holds it.
pub fn memory_by_process(driver: &Driver) -> Vec<(String, u64)> {
    let mut by: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let mut parents = vec![driver.pid()];
    while let Some(parent) = parents.pop() {
        for (pid, name) in children(parent) {
            parents.push(pid);
            if name != "WebKitWebDriver" && name != "tauri-driver" {
                *by.entry(name).or_default() += pss(pid);
            }
        }
    }
    by.into_iter().collect()
}

/// The processes whose parent is `parent`, with their names.
fn children(parent: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (name) state ppid ...: the name may hold spaces, so read from its end.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let ppid = stat[close + 2..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            found.push((pid, name));
        }
    }
    found
}

fn pss(pid: u32) -> u64 {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
