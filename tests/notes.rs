//! Live notes: committed as entered (and surviving the process), edits kept,
//! full-text search with prefixes, phrases, accents and filters, and the
//! notes around each hit.

mod common;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use panelkeeper::notes::{self, NoteInput, NoteSearch};
use panelkeeper::participants::{self, ParticipantInput};
use panelkeeper::sessions::staff::{self, StaffInput};
use panelkeeper::sessions::{self, SessionInput};
use panelkeeper::{Error, Panel};

async fn session(panel: &Panel, title: &str, start: &str) -> sessions::SessionId {
    if staff::list(panel).await.unwrap().is_empty() {
        staff::add(
            panel,
            &StaffInput {
                name: "Ana".into(),
                email: "ana@company.example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let ana = staff::by_email(panel, "ana@company.example.com")
            .await
            .unwrap();
        staff::set_current(panel, ana.id).await.unwrap();
    }
    sessions::create(
        panel,
        &SessionInput {
            title: title.into(),
            start: Some(NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M").unwrap()),
            time_zone: "UTC".into(),
            minutes: 90,
            moderator: "ana@company.example.com".into(),
            seats: 8,
            allow_double_booking: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

fn note(text: &str) -> NoteInput {
    NoteInput {
        text: text.into(),
        ..Default::default()
    }
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn notes_are_stamped_with_the_time_and_offset_and_survive_the_process() {
    let t = common::panel().await;
    let p = &t.panel;
    let s = session(p, "Checkout", "2026-06-01T09:00").await;
    participants::create(
        p,
        &ParticipantInput {
            name: "Zoë".into(),
            email: "zoe@example.com".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    t.clock.advance(Duration::seconds(42 * 60 + 10));
    let n = notes::add(
        p,
        s,
        &NoteInput {
            text: "My refund never came #refund #Billing".into(),
            participant: Some("zoe@example.com".into()),
            author: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(n.at, utc("2026-06-01T09:42:10Z"));
    assert_eq!(n.offset_seconds, 42 * 60 + 10);
    assert_eq!(n.tags, ["billing", "refund"]);
    assert_eq!(n.participant_name.as_deref(), Some("Zoë"));
    assert_eq!(
        n.author_name.as_deref(),
        Some("Ana"),
        "the staff member using this computer"
    );

    // Nothing is held back: another connection to the file sees it at once.
    let other = Panel::open(&t.location).await.unwrap();
    assert_eq!(notes::list(&other, s).await.unwrap(), vec![n.clone()]);

    for bad in ["   ", "bell\u{7}"] {
        assert!(
            matches!(
                notes::add(p, s, &note(bad)).await,
                Err(Error::InvalidInput { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        notes::add(p, sessions::SessionId(99), &note("x")).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        notes::list(p, s).await.unwrap().len(),
        1,
        "a refused note changes nothing"
    );
}

#[tokio::test]
async fn an_edit_keeps_the_earlier_version() {
    let t = common::panel().await;
    let p = &t.panel;
    let s = session(p, "Checkout", "2026-06-01T09:00").await;
    let n = notes::add(p, s, &note("Refund late #refund"))
        .await
        .unwrap();
    t.clock.advance(Duration::minutes(3));
    let edited = notes::edit(p, n.id, &note("Refund three weeks late #refund #urgent"))
        .await
        .unwrap();
    assert_eq!(edited.text, "Refund three weeks late #refund #urgent");
    assert_eq!(edited.tags, ["refund", "urgent"]);
    assert_eq!((edited.at, edited.edits), (n.at, 1));
    let history = notes::history(p, n.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].text, "Refund late #refund");
    assert_eq!(history[0].replaced_at, n.at + Duration::minutes(3));
    // The index follows the edit.
    let hits = notes::search(
        p,
        &NoteSearch {
            query: "urgent".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(hits.len(), 1);
    assert!(
        notes::search(
            p,
            &NoteSearch {
                query: "\"refund late\"".into(),
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .is_empty()
    );
}

#[tokio::test]
async fn search_finds_prefixes_and_phrases_with_filters_and_shows_the_notes_around() {
    let t = common::panel().await;
    let p = &t.panel;
    let first = session(p, "Checkout", "2026-06-01T09:00").await;
    let second = session(p, "Delivery", "2026-06-01T09:30").await;
    participants::create(
        p,
        &ParticipantInput {
            name: "Zoë".into(),
            email: "zoe@example.com".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let lines = [
        (first, "Talks about returns at the counter", None),
        (
            first,
            "My refund never arrived, I called twice #refund",
            Some("zoe@example.com"),
        ),
        (first, "Others nod", None),
        (second, "The parcel never arrived either #delivery", None),
        (second, "Café staff were très aimables", None),
    ];
    for (s, text, who) in lines {
        t.clock.advance(Duration::minutes(1));
        notes::add(
            p,
            s,
            &NoteInput {
                text: text.into(),
                participant: who.map(str::to_string),
                author: None,
            },
        )
        .await
        .unwrap();
    }
    let search = |query: &str| NoteSearch {
        query: query.into(),
        ..Default::default()
    };
    let texts = |hits: &[notes::NoteHit]| -> Vec<String> {
        let mut v: Vec<String> = hits.iter().map(|h| h.note.text.clone()).collect();
        v.sort();
        v
    };

    let hits = notes::search(p, &search("refun")).await.unwrap();
    assert_eq!(
        texts(&hits),
        ["My refund never arrived, I called twice #refund"]
    );
    assert_eq!(
        hits[0].before.as_ref().unwrap().text,
        "Talks about returns at the counter"
    );
    assert_eq!(hits[0].after.as_ref().unwrap().text, "Others nod");
    assert_eq!(hits[0].session_title, "Checkout");

    assert_eq!(
        notes::search(p, &search("\"never arrived\""))
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        notes::search(p, &search("\"arrived never\""))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        texts(&notes::search(p, &search("cafe tres")).await.unwrap()),
        ["Café staff were très aimables"]
    );

    let only = |f: fn(&mut NoteSearch)| {
        let mut s = search("arrived");
        f(&mut s);
        s
    };
    let in_second = notes::search(p, &only(|s| s.session = Some(sessions::SessionId(2))))
        .await
        .unwrap();
    assert_eq!(
        texts(&in_second),
        ["The parcel never arrived either #delivery"]
    );
    assert!(in_second[0].after.is_some() && in_second[0].before.is_none());
    let tagged = notes::search(p, &only(|s| s.tag = Some("#Refund".into())))
        .await
        .unwrap();
    assert_eq!(tagged.len(), 1);
    let zoe = notes::search(p, &only(|s| s.participant = Some("zoe@example.com".into())))
        .await
        .unwrap();
    assert_eq!(
        texts(&zoe),
        ["My refund never arrived, I called twice #refund"]
    );

    // Whatever is typed is searched for, never read as search syntax.
    for odd in [
        "refund OR delivery",
        "text:refund",
        "NEAR(refund arrived)",
        "\"unclosed",
        "refund*",
    ] {
        notes::search(p, &search(odd))
            .await
            .unwrap_or_else(|e| panic!("{odd:?}: {e}"));
    }
    assert!(matches!(
        notes::search(p, &search(" ** ")).await,
        Err(Error::InvalidInput { .. })
    ));
}

#[tokio::test]
async fn search_finds_notes_in_any_script_however_their_accents_were_typed() {
    let t = common::panel().await;
    let p = &t.panel;
    let s = session(p, "Международная панель", "2026-06-01T09:00").await;
    let lines = [
        // "Zoë" typed with a combining diaeresis (e + U+0308).
        "Zoe\u{308} found the app confusing",
        "Ärger mit der Straße #lieferung",
        "Ο πελάτης περίμενε τρεις εβδομάδες",
        "Клиент ждал возврат три недели",
        "配送が遅れた #配送",
        "الطلب لم يصل",
        "The 👩\u{200d}💻 team never called back",
        "She said \"it's broken\" — twice",
    ];
    for text in lines {
        t.clock.advance(Duration::minutes(1));
        notes::add(
            p,
            s,
            &NoteInput {
                text: text.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let found = |query: &str| {
        let query = query.to_string();
        async move {
            notes::search(
                p,
                &NoteSearch {
                    query: query.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{query:?}: {e}"))
            .into_iter()
            .map(|h| h.note.text)
            .collect::<Vec<_>>()
        }
    };
    // However the accent was typed, and with or without it.
    for q in ["Zoë", "Zoe\u{308}", "zoe"] {
        assert_eq!(
            found(q).await,
            ["Zoe\u{308} found the app confusing"],
            "{q:?}"
        );
    }
    assert_eq!(
        found("strasse").await.len(),
        0,
        "ß is not ss, as SQLite folds it"
    );
    assert_eq!(found("straße").await, ["Ärger mit der Straße #lieferung"]);
    assert_eq!(found("ärger").await, found("arger").await);
    assert_eq!(
        found("ΠΕΛΆΤΗΣ").await,
        ["Ο πελάτης περίμενε τρεις εβδομάδες"]
    );
    assert_eq!(found("возвр").await, ["Клиент ждал возврат три недели"]);
    assert_eq!(found("配送").await, ["配送が遅れた #配送"]);
    assert_eq!(found("الطلب").await, ["الطلب لم يصل"]);
    assert_eq!(
        found("team never").await,
        ["The 👩\u{200d}💻 team never called back"]
    );
    assert_eq!(
        found("\"it's broken\"").await,
        ["She said \"it's broken\" — twice"]
    );
    // A tag in another script is a tag.
    let tagged = notes::search(
        p,
        &NoteSearch {
            query: "配送".into(),
            tag: Some("#配送".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0].note.tags, ["配送"]);
}

/// The newest matches come first whether a word is in most notes, in a few
/// old ones only, or in a few new ones and a few old ones: a team database
/// tries the newest notes first and goes to its index for rarer words, and
/// both ways give what a panel file gives.
#[tokio::test]
async fn search_gives_the_newest_matches_first_however_common_the_word() {
    let t = common::panel().await;
    let p = &t.panel;
    let s = session(p, "A long day", "2026-06-01T09:00").await;
    let total = 4_300;
    for i in 0..total {
        let mut text = format!("Remark {i}");
        if i < 30 {
            text.push_str(" ancient");
        }
        if i % 2 == 0 {
            text.push_str(" even");
        }
        if i < 5 || i >= total - 8 {
            text.push_str(" edge");
        }
        notes::add(p, s, &note(&text)).await.unwrap();
    }
    let found = |query: &str, limit: u32| {
        let search = NoteSearch {
            query: query.into(),
            limit: Some(limit),
            ..Default::default()
        };
        async move {
            notes::search(p, &search)
                .await
                .unwrap()
                .into_iter()
                .map(|h| h.note.text)
                .collect::<Vec<_>>()
        }
    };
    let remark = |i: usize, words: &str| format!("Remark {i}{words}");

    // In every other note: the page is the newest even ones.
    let even = found("even", 50).await;
    let expected: Vec<String> = (0..total)
        .rev()
        .filter(|i| i % 2 == 0)
        .take(50)
        .map(|i| {
            let edge = if i >= total - 8 { " edge" } else { "" };
            remark(i, &format!(" even{edge}"))
        })
        .collect();
    assert_eq!(even, expected);

    // Only in the oldest notes: all 30, newest first.
    let ancient = found("ancient", 50).await;
    assert_eq!(ancient.len(), 30);
    assert_eq!(ancient[0], remark(29, " ancient"));
    assert_eq!(ancient[29], remark(0, " ancient even edge"));

    // Eight new and five old; a page of ten: the eight, then the newest two old.
    let edge: Vec<String> = found("edge", 10).await;
    assert_eq!(edge.len(), 10);
    assert!(edge[0].starts_with(&format!("Remark {} ", total - 1)));
    assert!(edge[7].starts_with(&format!("Remark {} ", total - 8)));
    assert!(edge[8].starts_with("Remark 4 "), "{edge:?}");
    assert!(edge[9].starts_with("Remark 3 "), "{edge:?}");

    // No match at all.
    assert!(found("zzqx", 50).await.is_empty());
}
