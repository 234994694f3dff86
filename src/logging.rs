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
