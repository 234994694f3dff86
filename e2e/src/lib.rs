//! What the desktop end-to-end tests (`tests/`) and the desktop benchmark
//! (`benches/`) share: the built binaries they start, and tauri-driver,
//! which starts a window through WebKitWebDriver for a WebDriver session.

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
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let (port, native) = (free(), free());
        // Its own process group, so dropping the driver also stops the
        // WebKitWebDriver and app it started, even when a test fails.
        let child = Command::new("tauri-driver")
            .env("PANELKEEPER_TRUSTED_DIR", dir)
            .env("PANELKEEPER_LOG_DIR", dir.join("logs"))
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
