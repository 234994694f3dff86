//! CSV import against a hostile corpus, on real SQLite files: every bad row
//! is named by line, column and reason, good rows go in, nothing already
//! saved is lost, and a second import of the same file changes nothing.

mod common;

use common::*;
use panelkeeper::Error;
use panelkeeper::files::Existing;
use panelkeeper::participants::{
    self, ParticipantQuery, StatusFilter, csv_export, import::ImportProgress,
};
use std::sync::Mutex;

async fn count(panel: &panelkeeper::Panel) -> u32 {
    participants::list(
        panel,
        &ParticipantQuery {
            status: StatusFilter::All,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .total
}

#[tokio::test]
async fn bom_crlf_and_split_names() {
    let t = panel().await;
    let r = import(&t.panel, "bom_crlf_comma.csv").await.unwrap();
    assert_eq!((r.rows, r.created, r.rejected.len()), (3, 3, 0), "{r:?}");
    assert_eq!(r.attribute_columns, vec!["Age band", "Region"]);
    let id = participants::find(&t.panel, "zoe.mueller@example.com")
        .await
        .unwrap();
    let p = participants::get(&t.panel, id).await.unwrap();
    assert_eq!(p.name, "Zoë Müller");
    assert_eq!(p.time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(p.attributes["age_band"], "25-34");
    assert_eq!(p.source.as_deref(), Some("bom_crlf_comma.csv"));
    let lukasz = participants::get(
        &t.panel,
        participants::find(&t.panel, "lukasz@example.pl")
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(lukasz.phone, None, "an empty phone cell stays empty");
}

#[tokio::test]
async fn semicolons_quoted_newlines_and_tags() {
    let t = panel().await;
    let r = import(&t.panel, "semicolon_quoted_newlines.csv")
        .await
        .unwrap();
    assert_eq!((r.created, r.rejected.len()), (2, 0), "{r:?}");
    let p = participants::get(
        &t.panel,
        participants::find(&t.panel, "dmitry@example.ru")
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(p.name, "Дмитрий Иванов");
    assert_eq!(p.attributes["notes"], "Prefers mornings;\nhas two kids");
    assert_eq!(p.tags, vec!["early-adopter", "vip"]);
}

#[tokio::test]
async fn invalid_utf8_rejects_only_that_row_with_its_line_and_column() {
    let t = panel().await;
    let r = import(&t.panel, "invalid_utf8.csv").await.unwrap();
    assert_eq!(r.created, 2);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].line, 3);
    assert_eq!(r.rejected[0].column.as_deref(), Some("City"));
    assert!(
        r.rejected[0].reason.contains("UTF-8"),
        "{:?}",
        r.rejected[0]
    );
}

#[tokio::test]
async fn empty_header_only_and_utf16_files_are_refused_and_change_nothing() {
    let t = panel().await;
    import(&t.panel, "bom_crlf_comma.csv").await.unwrap();
    for (file, why) in [
        ("empty.csv", "is empty"),
        ("header_only.csv", "no participant rows"),
        ("utf16.csv", "UTF-16"),
    ] {
        match import(&t.panel, file).await {
            Err(Error::File { reason, .. }) => assert!(reason.contains(why), "{file}: {reason}"),
            other => panic!("{file}: {other:?}"),
        }
    }
    match import_text(&t.panel, "Name,Phone\nA,123456\n").await {
        Err(Error::File { reason, .. }) => assert!(reason.contains("no email column"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(count(&t.panel).await, 3);
}

#[tokio::test]
async fn duplicate_emails_inside_a_file_point_at_the_first_line() {
    let t = panel().await;
    let r = import(&t.panel, "duplicates.csv").await.unwrap();
    assert_eq!(r.created, 2);
    assert_eq!(r.rejected.len(), 1);
    let e = &r.rejected[0];
    assert_eq!((e.line, e.column.as_deref()), (3, Some("Email")));
    assert!(e.reason.contains("same email as line 2"), "{e:?}");
}

#[tokio::test]
async fn line_numbers_count_crlf_blank_lines_and_quoted_breaks() {
    let t = panel().await;
    let r = import(&t.panel, "crlf_blank_lines.csv").await.unwrap();
    assert_eq!((r.rows, r.created), (5, 2), "{r:?}");
    let lines: Vec<u64> = r.rejected.iter().map(|e| e.line).collect();
    // Bob on line 3; a blank line 4; Carl's row spans lines 5 to 7; Dora
    // on 8; Anna's repeat on 9, pointing back at line 2.
    assert_eq!(lines, vec![3, 8, 9], "{:?}", r.rejected);
    assert!(r.rejected[2].reason.contains("same email as line 2"));
}

#[tokio::test]
async fn every_invalid_field_is_named() {
    let t = panel().await;
    let r = import(&t.panel, "invalid_emails.csv").await.unwrap();
    assert_eq!(r.created, 1);
    let got: Vec<(u64, Option<&str>, bool)> = r
        .rejected
        .iter()
        .map(|e| (e.line, e.column.as_deref(), !e.reason.is_empty()))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, Some("Email"), true),
            (4, Some("Email"), true),
            (5, Some("Time zone"), true),
            (6, Some("Name"), true)
        ]
    );
    assert!(r.rejected[0].reason.contains("has no @"));
    assert!(r.rejected[1].reason.contains("domain without a dot"));
    assert!(r.rejected[2].reason.contains("IANA"));
    assert!(r.rejected[3].reason.contains("is empty"));
}

#[tokio::test]
async fn a_megabyte_field_is_rejected_with_its_size() {
    let t = panel().await;
    let text = format!(
        "Name,Email,Bio\nNormal,normal@example.com,short\nHuge,huge@example.com,{}\n",
        "x".repeat(1 << 20)
    );
    let r = import_text(&t.panel, &text).await.unwrap();
    assert_eq!(r.created, 1);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].column.as_deref(), Some("Bio"));
    assert!(
        r.rejected[0].reason.contains("1048576 characters"),
        "{:?}",
        r.rejected[0]
    );
}

#[tokio::test]
async fn ragged_rows_are_reported() {
    let t = panel().await;
    let r = import(&t.panel, "ragged.csv").await.unwrap();
    assert_eq!(r.created, 1);
    assert_eq!(r.rejected[0].line, 2);
    assert!(r.rejected[0].reason.contains("4 fields; the header has 2"));
}

#[tokio::test]
async fn reimporting_the_same_file_changes_nothing() {
    let t = panel().await;
    let first = import(&t.panel, "bom_crlf_comma.csv").await.unwrap();
    let before = participants::get(
        &t.panel,
        participants::find(&t.panel, "jose@example.es")
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    t.clock.advance(chrono::Duration::hours(1));
    let second = import(&t.panel, "bom_crlf_comma.csv").await.unwrap();
    assert_eq!(first.created, 3);
    assert_eq!(
        (second.created, second.updated, second.unchanged),
        (0, 0, 3)
    );
    let after = participants::get(&t.panel, before.id).await.unwrap();
    assert_eq!(before, after, "not even updated_at moves");
}

#[tokio::test]
async fn a_matching_email_updates_and_empty_cells_keep_what_is_stored() {
    let t = panel().await;
    import(&t.panel, "bom_crlf_comma.csv").await.unwrap();
    t.clock.advance(chrono::Duration::hours(1));
    let r = import_text(
        &t.panel,
        "Name,E-mail,Phone,Region,Tags\nZoë Müller-Weiss,ZOE.MUELLER@example.com,,EU-West,vip\n",
    )
    .await
    .unwrap();
    assert_eq!((r.created, r.updated), (0, 1));
    let p = participants::get(
        &t.panel,
        participants::find(&t.panel, "zoe.mueller@example.com")
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(p.name, "Zoë Müller-Weiss");
    assert_eq!(
        p.phone.as_deref(),
        Some("+49 30 1234567"),
        "an empty cell does not erase"
    );
    assert_eq!(p.attributes["region"], "EU-West");
    assert_eq!(
        p.attributes["age_band"], "25-34",
        "attributes not in the file stay"
    );
    assert_eq!(p.tags, vec!["vip"]);
    assert_eq!(
        p.source.as_deref(),
        Some("bom_crlf_comma.csv"),
        "the first source stays"
    );
    assert!(p.updated_at > p.created_at);
}

#[tokio::test]
async fn export_neutralises_formulas_and_imports_back_unchanged() {
    let t = panel().await;
    let r = import(&t.panel, "formula_injection.csv").await.unwrap();
    assert_eq!(r.created, 2, "{r:?}");
    let path = t.dir.path().join("out.csv");
    let seen = std::sync::Mutex::new(Vec::new());
    let n = csv_export::export_file(
        &t.panel,
        &ParticipantQuery::default(),
        &path,
        Existing::Keep,
        &|p| seen.lock().unwrap().push((p.written, p.total)),
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    // Its progress, from nothing to every row.
    assert_eq!(seen.into_inner().unwrap(), [(0, 2), (2, 2)]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"'=HYPERLINK("), "{text}");
    assert!(text.contains("'@SUM(A1:A9)"), "{text}");
    assert!(text.contains("'+cmd|"), "{text}");
    for line in text.lines().skip(1) {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '@']),
                "unescaped formula cell in {line}"
            );
        }
    }
    let again = import_text(&t.panel, &text).await.unwrap();
    assert_eq!(
        (again.unchanged, again.updated, again.created),
        (2, 0, 0),
        "{again:?}"
    );
    assert!(again.ignored_columns.contains(&"id".to_string()));
}

#[tokio::test]
async fn progress_is_reported_for_reading_and_writing() {
    let t = panel().await;
    let mut csv = Vec::new();
    panelkeeper::demo::write_csv(5_000, 9, &mut csv).unwrap();
    let seen = Mutex::new(Vec::new());
    let r =
        panelkeeper::participants::import::import_bytes(&t.panel, "demo.csv", None, &csv, &|p| {
            seen.lock().unwrap().push(p)
        })
        .await
        .unwrap();
    assert_eq!(r.created, 5_000);
    let seen = seen.into_inner().unwrap();
    assert!(
        seen.iter()
            .filter(|p| matches!(p, ImportProgress::Reading { .. }))
            .count()
            > 2
    );
    assert_eq!(
        seen.last(),
        Some(&ImportProgress::Writing {
            rows_done: 5_000,
            rows_total: 5_000
        })
    );
}

#[tokio::test]
async fn an_export_to_an_impossible_place_says_where_and_leaves_nothing() {
    let t = panel().await;
    import(&t.panel, "bom_crlf_comma.csv").await.unwrap();
    let missing = t.dir.path().join("no-such-folder/out.csv");
    match csv_export::export_file(
        &t.panel,
        &ParticipantQuery::default(),
        &missing,
        Existing::Keep,
        &|_| {},
    )
    .await
    {
        Err(Error::File { path, .. }) => {
            assert!(path.ends_with("no-such-folder/out.csv"), "{path}")
        }
        other => panic!("{other:?}"),
    }
    let dir = t.dir.path().join("taken.csv");
    std::fs::create_dir(&dir).unwrap();
    assert!(
        csv_export::export_file(
            &t.panel,
            &ParticipantQuery::default(),
            &dir,
            Existing::Replace,
            &|_| {}
        )
        .await
        .is_err()
    );
    assert!(
        std::fs::read_dir(t.dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".part")),
        "no partial file left behind"
    );
}

#[tokio::test]
async fn a_quote_that_never_closes_is_rejected_naming_every_line_it_took() {
    let t = panel().await;
    let r = import(&t.panel, "unclosed_quote.csv").await.unwrap();
    assert_eq!((r.rows, r.created), (2, 1), "{r:?}");
    assert_eq!(r.rejected.len(), 1, "{r:?}");
    let e = &r.rejected[0];
    assert_eq!((e.line, e.column.as_deref()), (3, Some("Name")), "{e:?}");
    assert!(
        e.reason.contains("quote on line 3 that is never closed")
            && e.reason.contains("lines 3 to 5"),
        "{e:?}"
    );
    // Nobody from inside the open quote was imported as a name.
    assert_eq!(count(&t.panel).await, 1);
    assert!(participants::find(&t.panel, "uq1@x.com").await.is_err());

    // The same rule with several threads reading parts of a large file: a
    // quote left open early takes the rest of the file, whatever the cuts.
    let mut text = String::from("Email,Name\nopen@x.com,\"Never closed\n");
    for k in 0..20_000 {
        text.push_str(&format!("p{k}@x.com,Person {k}\n"));
    }
    let t = panel().await;
    let r = import_text(&t.panel, &text).await.unwrap();
    assert_eq!((r.created, r.rejected.len()), (0, 1), "{:?}", r.rejected);
    assert!(
        r.rejected[0].reason.contains("lines 2 to 20002"),
        "{:?}",
        r.rejected
    );
}

#[tokio::test]
async fn a_cell_that_swallowed_rows_is_imported_with_a_warning_naming_them() {
    let t = panel().await;
    let r = import(&t.panel, "swallowed_rows.csv").await.unwrap();
    assert_eq!((r.created, r.rejected.len()), (3, 0), "{r:?}");
    // Ann's two-line address is an ordinary quoted cell: no warning.
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    let w = &r.warnings[0];
    assert_eq!((w.line, w.column.as_deref()), (4, Some("Name")), "{w:?}");
    assert!(
        w.reason.contains("lines 4 to 6") && w.reason.contains("2 of them look like rows"),
        "{w:?}"
    );
}
