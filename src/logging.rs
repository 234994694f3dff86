//! Where the programs write what they did: a log file in Panelkeeper's data
//! folder, rotated daily with two weeks kept, and every panic recorded in
//! it with its backtrace, so a crash leaves evidence even when nobody was
//! watching a terminal.
//!
//! The CLI and the desktop app both call [`init`]. The file gets `info` and
//! above (or what `PANELKEEPER_LOG` asks for); standard error gets log lines
//! only when `PANELKEEPER_LOG` is set, so a person at a terminal reads the
//! program's own sentences, not its diagnostics. Database details that the
//! core keeps out of its error messages are written here.

use std::path::{Path, PathBuf};
use tracing_subscriber::{EnvFilter, Layer, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// How many daily log files are kept.
const KEPT_FILES: usize = 14;

/// The log folder: `PANELKEEPER_LOG_DIR`, else `logs` in the desktop app's
/// data folder (where Tauri's own `app_log_dir` points on Linux).
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PANELKEEPER_LOG_DIR") {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(crate::APP_IDENTIFIER)
        .join("logs")
}

/// Starts logging for `program` (`panelkeeper` or `panelkeeper-app`) into
/// `dir`, and records panics there. Returns the folder when the log file
/// could be opened; without it (a read-only home, say) the program still
/// runs, logging only where `PANELKEEPER_LOG` sends it.
pub fn init(program: &str, dir: &Path) -> Option<PathBuf> {
    let filter = || EnvFilter::try_from_env("PANELKEEPER_LOG").ok();
    let file = open(program, dir).map(|appender| {
        fmt::layer()
            .with_ansi(false)
            .with_writer(appender)
            .with_filter(filter().unwrap_or_else(|| EnvFilter::new("info")))
    });
    let opened = file.is_some().then(|| dir.to_path_buf());
    let stderr = filter().map(|f| fmt::layer().with_writer(std::io::stderr).with_filter(f));
    let _ = tracing_subscriber::registry()
        .with(file)
        .with(stderr)
        .try_init();
    record_panics();
    opened
}

fn open(program: &str, dir: &Path) -> Option<tracing_appender::rolling::RollingFileAppender> {
    crate::files::private_dir(dir).ok()?;
    tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(program)
        .filename_suffix("log")
        .max_log_files(KEPT_FILES)
        .build(dir)
        .ok()
}

/// Writes every panic to the log, with where it happened and a backtrace,
/// before the default report on standard error.
fn record_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let backtrace = std::backtrace::Backtrace::force_capture();
        let thread = std::thread::current();
        tracing::error!(
            thread = thread.name().unwrap_or("unnamed"),
            "panic: {info}\n{backtrace}"
        );
        default(info);
    }));
}

/// How long a call to or on a team server runs before the log says so.
pub const SLOW_CALL: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `call` (a team server's command `command`, as `side` sees it: the
/// desktop waiting for its answer, or the server running it), writing to
/// the log each time it has run another [`SLOW_CALL`] without finishing, and
/// how long it took if it took that long: an app that waited and waited
/// leaves the evidence of where it waited.
pub async fn watch_slow<F: std::future::Future>(side: &str, command: &str, call: F) -> F::Output {
    watch_every(SLOW_CALL, side, command, call).await
}

async fn watch_every<F: std::future::Future>(
    every: std::time::Duration,
    side: &str,
    command: &str,
    call: F,
) -> F::Output {
    let started = std::time::Instant::now();
    let mut call = std::pin::pin!(call);
    loop {
        tokio::select! {
            done = &mut call => {
                let took = started.elapsed();
                if took >= every {
                    tracing::info!(side, command, ms = took.as_millis() as u64, "slow call finished");
                }
                return done;
            }
            _ = tokio::time::sleep(every) => {
                tracing::info!(
                    side,
                    command,
                    ms = started.elapsed().as_millis() as u64,
                    "call still running"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// What the log received, as text.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_slow_call_is_logged_while_it_runs_and_a_quick_one_is_not() {
        let written = Written::default();
        let into = written.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || into.clone())
            .finish();
        let _logging = tracing::subscriber::set_default(subscriber);

        let every = Duration::from_millis(40);
        let answer = watch_every(every, "desktop", "sessions_list", async {
            tokio::time::sleep(every * 2 + every / 2).await;
            42
        })
        .await;
        assert_eq!(answer, 42);
        assert_eq!(
            watch_every(every, "desktop", "issues_mine", async { "at once" }).await,
            "at once"
        );

        let log = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 3, "{log}");
        assert!(
            lines[..2].iter().all(
                |l| l.contains("call still running") && l.contains("command=\"sessions_list\"")
            ),
            "{log}"
        );
        assert!(lines[2].contains("slow call finished"), "{log}");
        assert!(!log.contains("issues_mine"), "{log}");
    }
}
