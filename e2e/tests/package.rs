//! The installable app: the Debian package `scripts/package` builds holds
//! the binary, a menu entry and an icon, installs with apt, and the
//! installed app starts and shows its window.
//!
//! PANELKEEPER_DEB names the package (`scripts/test` builds it with
//! `scripts/package --dev`). Installing needs root, or sudo without a
//! password; the package is removed again afterwards.

use fantoccini::Locator;
use panelkeeper_e2e::Driver;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn package() -> PathBuf {
    let path = PathBuf::from(
        std::env::var_os("PANELKEEPER_DEB")
            .expect("PANELKEEPER_DEB names the package: scripts/package --dev prints its path"),
    );
    assert!(path.exists(), "{} is not built", path.display());
    path
}

/// Runs `program` with `args`, failing the test with its output when it fails.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `args` as root: directly when this is root, else through `sudo -n`.
fn as_root(args: &[&str]) -> String {
    let root = run("id", &["-u"]).trim() == "0";
    if root {
        run(args[0], &args[1..])
    } else {
        let mut all = vec!["-n"];
        all.extend_from_slice(args);
        run("sudo", &all)
    }
}

/// One file of the package, read without installing it.
fn file_in(deb: &Path, name: &str) -> Vec<u8> {
    let tar = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .output()
        .unwrap();
    assert!(tar.status.success());
    let mut child = Command::new("tar")
        .args(["-xO", name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{name} is not in the package");
    out.stdout
}

#[test]
fn the_package_holds_the_app_its_menu_entry_and_its_icon() {
    let deb = package();
    let deb = deb.to_str().unwrap();
    let listing = run("dpkg-deb", &["-c", deb]);
    for wanted in [
        "./usr/bin/panelkeeper-app",
        "./usr/share/applications/Panelkeeper.desktop",
        "./usr/share/icons/hicolor/128x128/apps/panelkeeper-app.png",
    ] {
        let name = wanted.trim_start_matches("./");
        assert!(
            listing.lines().any(|l| l.ends_with(name)),
            "{wanted} missing from the package:\n{listing}"
        );
    }
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with("usr/bin/panelkeeper-app")),
        "the app is not executable:\n{listing}"
    );
    let depends = run("dpkg-deb", &["-f", deb, "Depends"]);
    assert!(depends.contains("libwebkit2gtk-4.1-0"), "{depends}");
    let entry = String::from_utf8(file_in(
        Path::new(deb),
        "usr/share/applications/Panelkeeper.desktop",
    ))
    .unwrap();
    for line in [
        "Type=Application",
        "Name=Panelkeeper",
        "Exec=panelkeeper-app",
        "Icon=panelkeeper-app",
        "Categories=Office;",
    ] {
        assert!(entry.lines().any(|l| l == line), "{line} missing:\n{entry}");
    }
    let icon = file_in(
        Path::new(deb),
        "usr/share/icons/hicolor/128x128/apps/panelkeeper-app.png",
    );
    assert!(icon.starts_with(b"\x89PNG"), "the icon is a PNG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_package_installs_with_apt_and_the_installed_app_starts() {
    let deb = package();
    let deb = deb.canonicalize().unwrap();
    as_root(&[
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "--reinstall",
        deb.to_str().unwrap(),
    ]);
    let installed = run("dpkg-query", &["-W", "-f", "${Status}", "panelkeeper"]);
    assert_eq!(installed, "install ok installed");
    assert!(Path::new("/usr/share/applications/Panelkeeper.desktop").exists());

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panel.db");
    let driver = Driver::start(dir.path());
    let c = driver
        .session(
            Path::new("/usr/bin/panelkeeper-app"),
            &["--db", db.to_str().unwrap()],
        )
        .await;
    let shown = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid=empty-panel]"))
        .await
        .expect("the installed app's window");
    assert!(shown.text().await.unwrap().contains("nobody on it yet"));
    c.close().await.unwrap();
    drop(driver);

    as_root(&[
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "remove",
        "-y",
        "panelkeeper",
    ]);
}
