//! The TypeScript types in `ui/src/lib/bindings/` are generated from the
//! core's Rust types. This test regenerates them and fails when the
//! committed files differ, so the UI never compiles against stale shapes.
//! `UPDATE_BINDINGS=1 cargo test --test bindings` rewrites them.

use panelkeeper::participants::{
    AttributeKey, Participant, ParticipantDetail, ParticipantInput, ParticipantPage,
    ParticipantQuery, consent, governance, import, privacy, screener, suppression,
};
use panelkeeper::{issues, mail, notes, reports, sessions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ts_rs::{Config, TS};

fn export_all(dir: &Path) {
    let cfg = Config::new().with_large_int("number").with_out_dir(dir);
    macro_rules! export {
        ($($t:ty),* $(,)?) => { $( <$t as TS>::export_all(&cfg).expect(stringify!($t)); )* };
    }
    export!(
        panelkeeper::Error,
        panelkeeper::inbox::InboxMessage,
        panelkeeper::inbox::FetchReport,
        panelkeeper::inbox::FileTo,
        panelkeeper::inbox::settings::InboxSettings,
        panelkeeper::inbox::settings::InboxInput,
        panelkeeper::demo::DemoReport,
        panelkeeper::demo::DemoProgress,
        Participant,
        ParticipantInput,
        ParticipantQuery,
        ParticipantPage,
        ParticipantDetail,
        panelkeeper::participants::timeline::TimelineEntry,
        AttributeKey,
        import::ImportReport,
        import::ImportProgress,
        panelkeeper::participants::csv_export::ExportProgress,
        panelkeeper::participants::BulkAction,
        panelkeeper::participants::BulkReport,
        privacy::PersonalData,
        privacy::Erasure,
        privacy::ErasurePlan,
        privacy::ErasureRequest,
        privacy::ErasureReport,
        screener::Screener,
        screener::ScreenerDefinition,
        screener::ScreenerDraft,
        governance::ScreenerCount,
        governance::EligibilityReport,
        governance::EligibilityOptions,
        governance::GovernanceRules,
        suppression::SuppressionList,
        suppression::SuppressionImport,
        consent::ConsentText,
        mail::OutboxPage,
        mail::OutboxDetail,
        mail::MessagePreview,
        mail::OutboxQuery,
        mail::settings::SmtpSettings,
        mail::settings::SmtpInput,
        mail::worker::PassReport,
        sessions::Session,
        sessions::SessionDetail,
        sessions::SessionInput,
        sessions::SessionQuery,
        sessions::InviteRequest,
        sessions::InviteReport,
        sessions::roster::AttendanceInput,
        sessions::roster::ReminderPlan,
        sessions::staff::StaffInput,
        sessions::staff::Role,
        panelkeeper::accounts::SignedIn,
        panelkeeper::accounts::Invitation,
        panelkeeper::api::Download,
        panelkeeper::remote::TeamStatus,
        panelkeeper::remote::QueuedNote,
        panelkeeper::remote::SendReport,
        reports::figures::FollowUpFigures,
        notes::Note,
        notes::NoteInput,
        notes::NoteSearch,
        notes::NoteHit,
        notes::NoteVersion,
        issues::Issue,
        issues::IssueDetail,
        issues::IssueInput,
        issues::IssueQuery,
        issues::ServiceLevels,
        reports::ReportOptions,
        reports::ReportFile,
        reports::ReportProgress,
    );
}

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "ts"))
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read_to_string(e.path()).unwrap())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn typescript_bindings_match_the_rust_types() {
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/bindings");
    let fresh = tempfile::tempdir().unwrap();
    export_all(fresh.path());
    let generated = read_dir(fresh.path());
    assert!(
        generated.len() > 10,
        "only {} files generated",
        generated.len()
    );
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        let _ = std::fs::remove_dir_all(&committed);
        std::fs::create_dir_all(&committed).unwrap();
        for (name, text) in &generated {
            std::fs::write(committed.join(name), text).unwrap();
        }
        return;
    }
    let current = read_dir(&committed);
    let stale: Vec<&String> = generated
        .iter()
        .filter(|(name, text)| current.get(*name) != Some(text))
        .map(|(name, _)| name)
        .chain(current.keys().filter(|name| !generated.contains_key(*name)))
        .collect();
    assert!(
        stale.is_empty(),
        "ui/src/lib/bindings is out of date for {stale:?}; run UPDATE_BINDINGS=1 cargo test --test bindings"
    );
}
