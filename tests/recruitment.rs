//! Participants, screeners, governance, suppression, consent and privacy on
//! real SQLite files with a driven clock.

mod common;

use chrono::Duration;
use common::*;
use panelkeeper::Error;
use panelkeeper::participants::governance::{self, EligibilityOptions, Exclusion, GovernanceRules};
use panelkeeper::participants::history::{self, ContactKind};
use panelkeeper::participants::screener::{
    self, Criterion, Effect, Quota, ScreenerDefinition, Test,
};
use panelkeeper::participants::{
    self, AttributeFilter, ParticipantInput, ParticipantQuery, StatusFilter, consent, privacy,
    suppression,
};
use std::collections::BTreeMap;

fn person(name: &str, email: &str, attrs: &[(&str, &str)]) -> ParticipantInput {
    ParticipantInput {
        name: name.into(),
        email: email.into(),
        time_zone: Some("Europe/Berlin".into()),
        attributes: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn create_edit_find_and_refuse_duplicates() {
    let t = panel().await;
    let p = participants::create(
        &t.panel,
        &person("Anna", "Anna@Example.com", &[("region", "EU")]),
    )
    .await
    .unwrap();
    assert_eq!(
        participants::find(&t.panel, "anna@example.com")
            .await
            .unwrap(),
        p.id
    );
    assert_eq!(
        participants::find(&t.panel, &p.id.to_string())
            .await
            .unwrap(),
        p.id
    );

    match participants::create(&t.panel, &person("Other Anna", "ANNA@example.com ", &[])).await {
        Err(Error::Conflict { reason }) => assert!(
            reason.contains("already belongs to participant"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    match participants::create(&t.panel, &person("Bad", "bad@example", &[])).await {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "email"),
        other => panic!("{other:?}"),
    }

    t.clock.advance(Duration::minutes(5));
    let mut input = p.to_input();
    input.phone = Some("+49 30 555 0101".into());
    input.attributes.insert("age_band".into(), "25-34".into());
    input.tags = vec!["VIP".into()];
    let q = participants::update(&t.panel, p.id, &input).await.unwrap();
    assert_eq!(q.phone.as_deref(), Some("+49 30 555 0101"));
    assert_eq!(q.tags, vec!["vip"]);
    assert_eq!(q.updated_at, start() + Duration::minutes(5));
    input.time_zone = Some("Nowhere/Land".into());
    assert!(participants::update(&t.panel, p.id, &input).await.is_err());
    assert_eq!(
        participants::get(&t.panel, p.id).await.unwrap(),
        q,
        "a refused edit changes nothing"
    );
}

#[tokio::test]
async fn list_searches_without_accents_filters_and_pages() {
    let t = panel().await;
    participants::create(
        &t.panel,
        &person("Zoë Müller", "zoe@example.com", &[("region", "EU")]),
    )
    .await
    .unwrap();
    participants::create(
        &t.panel,
        &person("Łukasz Nowak", "lukasz@example.pl", &[("region", "EU")]),
    )
    .await
    .unwrap();
    let mut ben = person("Ben 100% Smith", "ben@example.com", &[("region", "NA")]);
    ben.tags = vec!["vip".into()];
    let ben = participants::create(&t.panel, &ben).await.unwrap();
    participants::set_opted_out(&t.panel, ben.id, true)
        .await
        .unwrap();

    let names = |q: ParticipantQuery| {
        let panel = t.panel.clone();
        async move {
            participants::list(&panel, &q)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names(ParticipantQuery {
            search: Some("zoe mull".into()),
            ..Default::default()
        })
        .await,
        vec!["Zoë Müller"]
    );
    assert_eq!(
        names(ParticipantQuery {
            search: Some("LUKASZ".into()),
            ..Default::default()
        })
        .await,
        vec!["Łukasz Nowak"]
    );
    assert_eq!(
        names(ParticipantQuery {
            search: Some("100%".into()),
            ..Default::default()
        })
        .await,
        vec!["Ben 100% Smith"]
    );
    assert!(
        names(ParticipantQuery {
            search: Some("%".into()),
            ..Default::default()
        })
        .await
        .len()
            == 1,
        "% is literal"
    );
    assert_eq!(
        names(ParticipantQuery {
            tag: Some("vip".into()),
            ..Default::default()
        })
        .await,
        vec!["Ben 100% Smith"]
    );
    let eu = ParticipantQuery {
        attributes: vec![AttributeFilter {
            key: "region".into(),
            value: "EU".into(),
        }],
        ..Default::default()
    };
    assert_eq!(names(eu).await.len(), 2);
    assert_eq!(
        names(ParticipantQuery {
            status: StatusFilter::OptedOut,
            ..Default::default()
        })
        .await,
        vec!["Ben 100% Smith"]
    );
    assert_eq!(
        names(ParticipantQuery {
            status: StatusFilter::Contactable,
            ..Default::default()
        })
        .await
        .len(),
        2
    );
    let page = participants::list(
        &t.panel,
        &ParticipantQuery {
            limit: 2,
            offset: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((page.total, page.items.len()), (3, 1));
}

async fn screened_panel() -> (TestPanel, Vec<panelkeeper::participants::ParticipantId>) {
    let t = panel().await;
    let mut ids = Vec::new();
    for (i, (region, age, customer)) in [
        ("EU", "25-34", "no"),
        ("EU", "25-34", "no"),
        ("EU", "25-34", "no"),
        ("EU", "35-44", "no"),
        ("EU", "35-44", "yes"),
        ("NA", "25-34", "no"),
        ("EU", "18-24", "no"),
    ]
    .iter()
    .enumerate()
    {
        let p = participants::create(
            &t.panel,
            &person(
                &format!("Person {i}"),
                &format!("p{i}@example.com"),
                &[
                    ("region", region),
                    ("age_band", age),
                    ("customer", customer),
                    ("income", &(20000 + i * 10000).to_string()),
                ],
            ),
        )
        .await
        .unwrap();
        ids.push(p.id);
    }
    let def = ScreenerDefinition {
        criteria: vec![
            Criterion {
                attribute: "region".into(),
                test: Test::Equals { value: "eu".into() },
                effect: Effect::Qualify,
            },
            Criterion {
                attribute: "age_band".into(),
                test: Test::OneOf {
                    values: vec!["25-34".into(), "35-44".into()],
                },
                effect: Effect::Qualify,
            },
            Criterion {
                attribute: "customer".into(),
                test: Test::Equals {
                    value: "yes".into(),
                },
                effect: Effect::Disqualify,
            },
        ],
        quotas: vec![Quota {
            attribute: "age_band".into(),
            max: 2,
        }],
    };
    screener::save(&t.panel, "eu-adults", &def).await.unwrap();
    (t, ids)
}

#[tokio::test]
async fn a_screener_qualifies_disqualifies_and_fills_quota_cells() {
    let (t, ids) = screened_panel().await;
    let r = governance::eligible(
        &t.panel,
        "eu-adults",
        t.panel.now(),
        &EligibilityOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(r.panel_size, 7);
    assert_eq!(r.not_qualified, 3, "NA, customer and 18-24 do not qualify");
    let eligible: Vec<_> = r.eligible.iter().map(|c| c.id).collect();
    assert_eq!(
        eligible,
        vec![ids[0], ids[1], ids[3]],
        "two 25-34s and one 35-44"
    );
    assert_eq!(r.excluded.len(), 1);
    assert_eq!(
        r.excluded[0].reasons,
        vec![Exclusion::QuotaFull {
            attribute: "age_band".into(),
            value: "25-34".into(),
            max: 2
        }]
    );

    // The same screener explains each person's result on its own.
    for (i, id) in ids.iter().enumerate() {
        let reasons = governance::explain(&t.panel, "eu-adults", *id, t.panel.now())
            .await
            .unwrap();
        let qualifies_by_sql = eligible.contains(id) || r.excluded.iter().any(|e| e.id == *id);
        assert_eq!(
            reasons.is_empty(),
            qualifies_by_sql,
            "person {i}: {reasons:?}"
        );
    }

    let limited = governance::eligible(
        &t.panel,
        "eu-adults",
        t.panel.now(),
        &EligibilityOptions {
            limit: Some(1),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (limited.eligible.len(), limited.beyond_limit),
        (1, 3),
        "everyone else could have been chosen"
    );

    let mut filled = BTreeMap::new();
    filled.insert(
        "age_band".to_string(),
        BTreeMap::from([("35-44".to_string(), 2u32)]),
    );
    let prefilled = governance::eligible(
        &t.panel,
        "eu-adults",
        t.panel.now(),
        &EligibilityOptions {
            limit: None,
            filled,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        prefilled.eligible.len(),
        2,
        "the 35-44 cell is already full"
    );
}

#[tokio::test]
async fn ranges_and_missing_values() {
    let (t, ids) = screened_panel().await;
    let mut p = participants::get(&t.panel, ids[0])
        .await
        .unwrap()
        .to_input();
    p.attributes.remove("income");
    participants::update(&t.panel, ids[0], &p).await.unwrap();
    let def = ScreenerDefinition {
        criteria: vec![Criterion {
            attribute: "income".into(),
            test: Test::Range {
                min: Some(30000.0),
                max: Some(50000.0),
            },
            effect: Effect::Qualify,
        }],
        quotas: vec![],
    };
    screener::save(&t.panel, "mid-income", &def).await.unwrap();
    let r = governance::eligible(
        &t.panel,
        "mid-income",
        t.panel.now(),
        &EligibilityOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        r.eligible.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![ids[1], ids[2], ids[3]]
    );
    let missing = ScreenerDefinition {
        criteria: vec![Criterion {
            attribute: "income".into(),
            test: Test::Missing,
            effect: Effect::Qualify,
        }],
        quotas: vec![],
    };
    screener::save(&t.panel, "no-income", &missing)
        .await
        .unwrap();
    let r = governance::eligible(
        &t.panel,
        "no-income",
        t.panel.now(),
        &EligibilityOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        r.eligible.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
    assert!(matches!(
        governance::eligible(
            &t.panel,
            "nope",
            t.panel.now(),
            &EligibilityOptions::default()
        )
        .await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn every_governance_rule_excludes_with_its_reason() {
    let (t, ids) = screened_panel().await;
    governance::set_rules(
        &t.panel,
        &GovernanceRules {
            cooldown_days: 30,
            max_sessions_per_year: 2,
            no_show_ban_after: 2,
        },
    )
    .await
    .unwrap();
    let now = t.panel.now();
    participants::set_opted_out(&t.panel, ids[0], true)
        .await
        .unwrap();
    participants::set_do_not_contact(&t.panel, ids[1], true)
        .await
        .unwrap();
    history::record(
        &t.panel,
        ids[2],
        ContactKind::Invited,
        Some(now - Duration::days(10)),
        None,
    )
    .await
    .unwrap();
    for days in [300, 200] {
        history::record(
            &t.panel,
            ids[3],
            ContactKind::Attended,
            Some(now - Duration::days(days)),
            None,
        )
        .await
        .unwrap();
    }
    let suppressed = suppression::import(&t.panel, "crm", "email\np4@example.com\nnot-an-email\n")
        .await
        .unwrap();
    assert_eq!((suppressed.added, suppressed.rejected.len()), (1, 1));
    assert_eq!(suppressed.rejected[0].line, 3);

    let reasons = |id| {
        let panel = t.panel.clone();
        async move { governance::status(&panel, id, now).await.unwrap().reasons }
    };
    assert!(matches!(
        reasons(ids[0]).await[..],
        [Exclusion::OptedOut { .. }]
    ));
    assert_eq!(reasons(ids[1]).await, vec![Exclusion::DoNotContact]);
    assert!(matches!(
        reasons(ids[2]).await[..],
        [Exclusion::Cooldown { .. }]
    ));
    assert_eq!(
        reasons(ids[3]).await,
        vec![Exclusion::YearlyCap {
            booked: 0,
            sessions: 2,
            cap: 2
        }]
    );
    assert_eq!(
        reasons(ids[4]).await,
        vec![Exclusion::Suppressed {
            lists: vec!["crm".into()]
        }]
    );

    // No-shows ban; older sessions roll out of the yearly window.
    for days in [500, 400] {
        history::record(
            &t.panel,
            ids[6],
            ContactKind::NoShow,
            Some(now - Duration::days(days)),
            None,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        reasons(ids[6]).await,
        vec![Exclusion::NoShowBan {
            no_shows: 2,
            limit: 2
        }]
    );
    let later = governance::status(&t.panel, ids[3], now + Duration::days(170))
        .await
        .unwrap();
    assert!(
        later.eligible,
        "one session rolled out of the 12 months: {later:?}"
    );
    let later = governance::status(&t.panel, ids[2], now + Duration::days(20))
        .await
        .unwrap();
    assert!(later.eligible, "the cooldown is over");
    let earlier = governance::status(&t.panel, ids[2], now - Duration::days(11))
        .await
        .unwrap();
    assert!(
        earlier.eligible,
        "history after the time asked about does not count"
    );

    // The screener run gives the same reasons, and never lists eligible people as excluded.
    let r = governance::eligible(&t.panel, "eu-adults", now, &EligibilityOptions::default())
        .await
        .unwrap();
    let excluded: BTreeMap<_, _> = r
        .excluded
        .iter()
        .map(|e| (e.id, e.reasons.clone()))
        .collect();
    assert!(matches!(
        excluded[&ids[0]][..],
        [Exclusion::OptedOut { .. }]
    ));
    assert_eq!(excluded[&ids[1]], vec![Exclusion::DoNotContact]);
    assert!(matches!(
        excluded[&ids[2]][..],
        [Exclusion::Cooldown { .. }]
    ));
    assert_eq!(
        excluded[&ids[3]],
        vec![Exclusion::YearlyCap {
            booked: 0,
            sessions: 2,
            cap: 2
        }]
    );
    assert!(r.eligible.is_empty(), "{r:?}");

    assert!(matches!(
        history::record(
            &t.panel,
            ids[5],
            ContactKind::Invited,
            Some(now + Duration::days(1)),
            None
        )
        .await,
        Err(Error::InvalidInput { .. })
    ));
}

#[tokio::test]
async fn suppression_lists_store_only_hashes_and_accept_hashes() {
    let t = panel().await;
    let p = participants::create(&t.panel, &person("Cust", "J.Doe+news@Gmail.com", &[]))
        .await
        .unwrap();
    let hash = panelkeeper::participants::fields::Email::parse("jdoe@gmail.com")
        .unwrap()
        .hash()
        .to_string();
    let r = suppression::import(&t.panel, "crm", &format!("{hash}\n"))
        .await
        .unwrap();
    assert_eq!(r.added, 1);
    let status = governance::status(&t.panel, p.id, t.panel.now())
        .await
        .unwrap();
    assert_eq!(
        status.reasons,
        vec![Exclusion::Suppressed {
            lists: vec!["crm".into()]
        }]
    );
    let again = suppression::import(&t.panel, "crm", "jdoe@gmail.com\ncrm-only@example.com\n")
        .await
        .unwrap();
    assert_eq!((again.added, again.already_listed), (1, 1));
    let lists = suppression::lists(&t.panel).await.unwrap();
    assert_eq!((lists[0].entries, lists[0].matching_participants), (2, 1));
    let db = std::fs::read(t.dir.path().join("panel.db")).unwrap_or_default();
    let wal = std::fs::read(t.dir.path().join("panel.db-wal")).unwrap_or_default();
    let needle = b"crm-only@example.com";
    assert!(
        !db.windows(needle.len())
            .chain(wal.windows(needle.len()))
            .any(|w| w == needle)
    );
}

#[tokio::test]
async fn consent_versions_are_recorded_with_time() {
    let t = panel().await;
    let p = participants::create(&t.panel, &person("Anna", "anna@example.com", &[]))
        .await
        .unwrap();
    let v1 = consent::add_text(&t.panel, "recording", "We record audio.")
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    t.clock.advance(Duration::days(1));
    consent::accept(&t.panel, p.id, "recording", None, None)
        .await
        .unwrap();
    t.clock.advance(Duration::days(1));
    let v2 = consent::add_text(&t.panel, "recording", "We record audio and video.")
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let consents = consent::for_participant(&t.panel, p.id).await.unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!((consents[0].version, consents[0].superseded), (1, true));
    assert_eq!(consents[0].accepted_at, start() + Duration::days(1));
    assert!(matches!(
        consent::accept(&t.panel, p.id, "recording", Some(2), Some(start())).await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        consent::accept(&t.panel, p.id, "filming", None, None).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn privacy_export_holds_everything_and_erasure_keeps_a_de_identified_record() {
    let t = panel().await;
    let mut input = person("Zoë Müller", "zoe@example.com", &[("region", "EU")]);
    input.phone = Some("+49 30 1234567".into());
    input.tags = vec!["vip".into()];
    let p = participants::create(&t.panel, &input).await.unwrap();
    consent::add_text(&t.panel, "recording", "We record audio.")
        .await
        .unwrap();
    consent::accept(&t.panel, p.id, "recording", None, None)
        .await
        .unwrap();
    history::record(
        &t.panel,
        p.id,
        ContactKind::Attended,
        Some(start() - Duration::days(3)),
        Some("met at the Berlin lab"),
    )
    .await
    .unwrap();

    let data = privacy::export(&t.panel, p.id).await.unwrap();
    let json = serde_json::to_string(&data).unwrap();
    for needle in [
        "Zoë Müller",
        "zoe@example.com",
        "+49 30 1234567",
        "vip",
        "recording",
        "attended",
        "met at the Berlin lab",
    ] {
        assert!(json.contains(needle), "{needle} missing from {json}");
    }

    let e = privacy::erase(
        &t.panel,
        p.id,
        &privacy::ErasureRequest {
            reason: Some("asked by email".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let after = participants::get(&t.panel, p.id).await.unwrap();
    assert_eq!(after.name, format!("Erased participant {}", p.id));
    assert_eq!((after.email.clone(), after.phone.clone()), (None, None));
    assert!(after.attributes.is_empty() && after.tags.is_empty());
    assert_eq!(after.erased_at, Some(e.erasure.erased_at));
    let json = serde_json::to_string(&privacy::export(&t.panel, p.id).await.unwrap()).unwrap();
    for gone in ["Zoë", "zoe@example.com", "1234567", "Berlin"] {
        assert!(!json.contains(gone), "{gone} survived erasure: {json}");
    }
    assert_eq!(
        history::for_participant(&t.panel, p.id)
            .await
            .unwrap()
            .len(),
        1,
        "the history stays, de-identified"
    );
    assert_eq!(
        privacy::erasures(&t.panel, Some(p.id)).await.unwrap()[0]
            .reason
            .as_deref(),
        Some("asked by email")
    );
    assert!(matches!(
        privacy::erase(&t.panel, p.id, &Default::default()).await,
        Err(Error::Conflict { .. })
    ));
    let status = governance::status(&t.panel, p.id, t.panel.now())
        .await
        .unwrap();
    assert_eq!(status.reasons, vec![Exclusion::Erased]);
    let listed = participants::list(&t.panel, &ParticipantQuery::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 0, "erased people are not in the normal list");
    // The email is free again, and a new sign-up is a new person.
    let again = participants::create(&t.panel, &person("Zoë", "zoe@example.com", &[]))
        .await
        .unwrap();
    assert_ne!(again.id, p.id);
}

#[tokio::test]
async fn the_demo_panel_is_deterministic() {
    let a = panel().await;
    let b = panel().await;
    let ra = panelkeeper::demo::generate(&a.panel, 500, 42)
        .await
        .unwrap();
    let rb = panelkeeper::demo::generate(&b.panel, 500, 42)
        .await
        .unwrap();
    assert_eq!(ra, rb);
    let pa = participants::list(
        &a.panel,
        &ParticipantQuery {
            limit: 500,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let pb = participants::list(
        &b.panel,
        &ParticipantQuery {
            limit: 500,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(pa, pb);
    let ea = governance::eligible(
        &a.panel,
        "eu-25-44-non-customers",
        a.panel.now(),
        &EligibilityOptions::default(),
    )
    .await
    .unwrap();
    assert!(
        !ea.eligible.is_empty() && !ea.excluded.is_empty(),
        "{} eligible, {} excluded",
        ea.eligible.len(),
        ea.excluded.len()
    );
    assert!(matches!(
        panelkeeper::demo::generate(&a.panel, 10, 1).await,
        Err(Error::Conflict { .. })
    ));
}

#[tokio::test]
async fn a_screener_run_again_names_people_as_they_are_now() {
    let (t, ids) = screened_panel().await;
    let other = t.another().await;
    let listed = |panel: panelkeeper::Panel| async move {
        let r = governance::eligible(
            &panel,
            "eu-adults",
            panel.now(),
            &EligibilityOptions::default(),
        )
        .await
        .unwrap();
        let eligible = r
            .eligible
            .iter()
            .map(|c| (c.id, c.name.clone(), c.email.clone()));
        let excluded = r
            .excluded
            .iter()
            .map(|e| (e.id, e.name.clone(), e.email.clone().unwrap_or_default()));
        eligible.chain(excluded).collect::<Vec<_>>()
    };
    let first = listed(t.panel.clone()).await;
    assert!(
        first.contains(&(ids[0], "Person 0".into(), "p0@example.com".into())),
        "{first:?}"
    );
    // Named once, the same again from the snapshot.
    assert_eq!(listed(t.panel.clone()).await, first);

    // Renamed in another process: the next run shows the new name.
    let mut input = participants::get(&t.panel, ids[0])
        .await
        .unwrap()
        .to_input();
    input.name = "Renamed Person".into();
    input.email = "renamed@example.com".into();
    participants::update(&other, ids[0], &input).await.unwrap();
    let renamed = listed(t.panel.clone()).await;
    assert!(
        renamed.contains(&(
            ids[0],
            "Renamed Person".into(),
            "renamed@example.com".into()
        )),
        "{renamed:?}"
    );

    // Erased in another process: the name and address are gone from the list.
    privacy::erase(&other, ids[1], &Default::default())
        .await
        .unwrap();
    let after = listed(t.panel.clone()).await;
    assert!(
        after
            .iter()
            .all(|(_, name, email)| name != "Person 1" && email != "p1@example.com"),
        "{after:?}"
    );
}

#[tokio::test]
async fn the_panel_index_never_serves_a_stale_answer() {
    let (t, ids) = screened_panel().await;
    // A second handle on the same file, as the CLI beside the open app.
    let other = t.another().await;
    let eligible = |panel: panelkeeper::Panel| async move {
        governance::eligible(
            &panel,
            "eu-adults",
            panel.now(),
            &EligibilityOptions::default(),
        )
        .await
        .unwrap()
        .eligible
        .into_iter()
        .map(|c| c.id)
        .collect::<Vec<_>>()
    };
    assert_eq!(
        eligible(t.panel.clone()).await,
        vec![ids[0], ids[1], ids[3]]
    );

    participants::set_opted_out(&other, ids[0], true)
        .await
        .unwrap();
    assert_eq!(
        eligible(t.panel.clone()).await,
        vec![ids[1], ids[2], ids[3]],
        "opt-out in another process"
    );

    participants::set_do_not_contact(&t.panel, ids[1], true)
        .await
        .unwrap();
    history::record(
        &other,
        ids[2],
        ContactKind::Invited,
        Some(t.panel.now()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        eligible(t.panel.clone()).await,
        vec![ids[3]],
        "do-not-contact and a logged invitation"
    );

    suppression::import(&other, "crm", "p3@example.com\n")
        .await
        .unwrap();
    assert!(
        eligible(t.panel.clone()).await.is_empty(),
        "a suppression list"
    );
    suppression::delete(&t.panel, "crm").await.unwrap();
    assert_eq!(eligible(t.panel.clone()).await, vec![ids[3]]);

    let mut input = participants::get(&t.panel, ids[3])
        .await
        .unwrap()
        .to_input();
    input.attributes.insert("region".into(), "NA".into());
    participants::update(&other, ids[3], &input).await.unwrap();
    assert!(
        eligible(t.panel.clone()).await.is_empty(),
        "an edited attribute"
    );

    import_text(
        &other,
        "Name,Email,Region,Age band\nNew,new@example.com,EU,35-44\n",
    )
    .await
    .unwrap();
    assert_eq!(eligible(t.panel.clone()).await.len(), 1, "an import");
    let new = participants::find(&t.panel, "new@example.com")
        .await
        .unwrap();
    privacy::erase(&other, new, &Default::default())
        .await
        .unwrap();
    assert!(eligible(t.panel.clone()).await.is_empty(), "an erasure");
    let keys = participants::attribute_keys(&t.panel).await.unwrap();
    assert_eq!(
        keys.iter().find(|k| k.key == "region").unwrap().count,
        7,
        "counts kept by every write, erased excluded"
    );
}

#[tokio::test]
async fn the_index_and_the_database_give_the_same_reasons_for_everyone() {
    let t = panel().await;
    panelkeeper::demo::generate(&t.panel, 1_500, 11)
        .await
        .unwrap();
    screener::save(&t.panel, "everyone", &ScreenerDefinition::default())
        .await
        .unwrap();
    let now = t.panel.now();
    let r = governance::eligible(&t.panel, "everyone", now, &EligibilityOptions::default())
        .await
        .unwrap();
    assert_eq!(r.eligible.len() + r.excluded.len(), 1_500);
    assert!(
        r.excluded.len() > 100,
        "the demo panel has people excluded by each rule"
    );
    for c in &r.eligible {
        let status = governance::status(&t.panel, c.id, now).await.unwrap();
        assert!(status.eligible, "{}: {:?}", c.id, status.reasons);
    }
    for e in &r.excluded {
        let status = governance::status(&t.panel, e.id, now).await.unwrap();
        assert_eq!(status.reasons, e.reasons, "participant {}", e.id);
    }
    // And the screener's criteria decide the same for each person as its explanation.
    let r = governance::eligible(
        &t.panel,
        "budget-shoppers",
        now,
        &EligibilityOptions::default(),
    )
    .await
    .unwrap();
    let def = screener::get(&t.panel, "budget-shoppers")
        .await
        .unwrap()
        .definition;
    let page = participants::list(
        &t.panel,
        &ParticipantQuery {
            limit: 1000,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let qualified = r.eligible.len() + r.excluded.len();
    let mut explained = 0;
    for row in &page.items {
        let p = participants::get(&t.panel, row.id).await.unwrap();
        let in_report =
            r.eligible.iter().any(|c| c.id == p.id) || r.excluded.iter().any(|e| e.id == p.id);
        assert_eq!(
            def.failures(&p.attributes).is_empty(),
            in_report,
            "participant {}",
            p.id
        );
        explained += in_report as usize;
    }
    assert!(explained > 0 && qualified > explained / 2);
}

#[tokio::test]
async fn a_write_while_another_process_holds_the_panel_says_so_and_changes_nothing() {
    use sqlx::Connection;
    let t = panel().await;
    let Some(file) = t.file() else { return };
    // Another process holding the write lock for longer than the busy timeout.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    match participants::create(&t.panel, &person("Anna", "anna@example.com", &[])).await {
        Err(e @ Error::Busy) => assert!(e.to_string().contains("nothing was changed"), "{e}"),
        other => panic!("{other:?}"),
    }
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    let page = participants::list(&t.panel, &ParticipantQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, 0);
    participants::create(&t.panel, &person("Anna", "anna@example.com", &[]))
        .await
        .unwrap();
}

/// Addresses that differ only by Unicode compatibility forms (fullwidth
/// letters) are one person: refused as a duplicate, matched by an import,
/// and matched on a suppression list.
#[tokio::test]
async fn fullwidth_and_plain_emails_are_the_same_person() {
    let t = panel().await;
    let full = participants::create(
        &t.panel,
        &person("Full", "ｆｕｌｌ@ｅｘａｍｐｌｅ.com", &[]),
    )
    .await
    .unwrap();
    match participants::create(&t.panel, &person("Plain", "Full@example.com", &[])).await {
        Err(Error::Conflict { reason }) => assert!(reason.contains("already"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        participants::find(&t.panel, "full@example.com")
            .await
            .unwrap(),
        full.id
    );
    let r = import_text(&t.panel, "Email,Name,Region\nfull@example.com,Full,EU\n")
        .await
        .unwrap();
    assert_eq!((r.created, r.updated), (0, 1), "{r:?}");
    let r = import_text(
        &t.panel,
        "Email,Name\nsame@example.org,One\nｓａｍｅ@example.org,Two\n",
    )
    .await
    .unwrap();
    assert_eq!((r.created, r.rejected.len()), (1, 1), "{r:?}");
    assert!(r.rejected[0].reason.contains("line 2"), "{:?}", r.rejected);
}

/// A panel saved before compatibility forms were folded has its stored
/// addresses folded once when it is next opened.
#[tokio::test]
async fn stored_emails_are_folded_again_when_an_older_panel_opens() {
    use sqlx::Connection;
    let t = panel().await;
    let Some(file) = t.file() else { return };
    let full = participants::create(&t.panel, &person("Full", "ｆｕｌｌ@example.com", &[]))
        .await
        .unwrap();
    t.panel.close().await;
    let mut old = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    // As an earlier version stored it (NFC and lower case only).
    sqlx::query("UPDATE participants SET email_norm = 'ｆｕｌｌ@example.com'")
        .execute(&mut old)
        .await
        .unwrap();
    sqlx::query("DELETE FROM settings WHERE key = 'email_folding'")
        .execute(&mut old)
        .await
        .unwrap();
    old.close().await.unwrap();
    let panel = panelkeeper::Panel::open(&file).await.unwrap();
    assert_eq!(
        participants::find(&panel, "full@example.com")
            .await
            .unwrap(),
        full.id
    );
}

/// Every page of a listing, read as a person pages through it.
async fn every_page(panel: &panelkeeper::Panel, query: &ParticipantQuery) -> (Vec<i64>, u32, bool) {
    let mut ids = Vec::new();
    let mut offset = 0;
    loop {
        let page = participants::list(
            panel,
            &ParticipantQuery {
                limit: 700,
                offset,
                ..query.clone()
            },
        )
        .await
        .unwrap();
        ids.extend(page.items.iter().map(|r| r.id.0));
        if page.items.len() < 700 {
            return (ids, page.total, page.total_capped);
        }
        offset += 700;
    }
}

#[tokio::test]
async fn search_and_counts_find_what_reading_every_row_finds() {
    let t = panel().await;
    // A panel loaded in bulk, then a smaller import that renames one
    // person and adds another, written a row at a time.
    let mut csv = Vec::new();
    panelkeeper::demo::write_csv(6_000, 5, &mut csv).unwrap();
    let import = |name: &'static str, bytes: Vec<u8>| {
        let panel = t.panel.clone();
        async move {
            participants::import::import_bytes(&panel, name, None, &bytes, &|_| {})
                .await
                .unwrap()
        }
    };
    let indexes = || async {
        let sql = match &t.location {
            panelkeeper::db::Location::File(_) => {
                "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name = 'participants' AND sql IS NOT NULL ORDER BY name"
            }
            panelkeeper::db::Location::Postgres(_) => {
                "SELECT indexname::text FROM pg_indexes \
                 WHERE tablename = 'participants' ORDER BY indexname"
            }
        };
        common::rows::<(String,)>(&t.location, sql).await
    };
    let before = indexes().await;
    assert_eq!(import("demo.csv", csv).await.created, 6_000);
    // The indexes a bulk load drops are all built again.
    assert_eq!(indexes().await, before);
    let tenth = participants::get(&t.panel, participants::ParticipantId(10))
        .await
        .unwrap()
        .email
        .unwrap();
    let r = import(
        "more.csv",
        format!("Name,Email\nQuentin Zebrafish,{tenth}\nXavier Quokka,xq@example.com\n")
            .into_bytes(),
    )
    .await;
    assert_eq!((r.created, r.updated), (1, 1));
    for word in ["zebrafish", "quokka", "horvat"] {
        let query = ParticipantQuery {
            search: Some(word.into()),
            ..Default::default()
        };
        let (found, _, _) = every_page(&t.panel, &query).await;
        assert!(
            !found.is_empty(),
            "{word} is found straight after the import"
        );
    }
    // People in every state, and text that changes after it was indexed.
    for id in (1..6_000).step_by(97) {
        participants::set_opted_out(&t.panel, participants::ParticipantId(id), true)
            .await
            .unwrap();
    }
    for id in (2..6_000).step_by(89) {
        participants::set_do_not_contact(&t.panel, participants::ParticipantId(id), true)
            .await
            .unwrap();
    }
    for id in (3..6_000).step_by(301) {
        privacy::erase(
            &t.panel,
            participants::ParticipantId(id),
            &Default::default(),
        )
        .await
        .unwrap();
    }
    let renamed = participants::ParticipantId(4);
    let email = participants::get(&t.panel, renamed)
        .await
        .unwrap()
        .email
        .unwrap();
    participants::update(
        &t.panel,
        renamed,
        &person("Zofia Quillfeather", &email, &[]),
    )
    .await
    .unwrap();
    participants::create(&t.panel, &person("Ann_a 100%", "odd%name@example.com", &[]))
        .await
        .unwrap();
    // Short searches the index answers through the trigrams that begin
    // with them, down to the last letters of a person's text.
    participants::create(&t.panel, &person("Ende Person", "ende@example.xj", &[]))
        .await
        .unwrap();
    let omega = participants::create(&t.panel, &person("Yusuf Ωmega", "yusuf@example.org", &[]))
        .await
        .unwrap();
    participants::create(&t.panel, &person("Zed Ω", "zed@παράδειγμα.δοκιμή", &[]))
        .await
        .unwrap();
    participants::update(
        &t.panel,
        omega.id,
        &person("Yusuf Ωmegæ", "yusuf@example.org", &[]),
    )
    .await
    .unwrap();

    let team = t.file().is_none();
    let statuses = [
        (StatusFilter::All, "erased_at IS NULL"),
        (
            StatusFilter::Contactable,
            "erased_at IS NULL AND opted_out_at IS NULL AND do_not_contact = false",
        ),
        (
            StatusFilter::OptedOut,
            "erased_at IS NULL AND opted_out_at IS NOT NULL",
        ),
        (
            StatusFilter::DoNotContact,
            "erased_at IS NULL AND do_not_contact = true",
        ),
        (StatusFilter::Erased, "erased_at IS NOT NULL"),
    ];
    let searches = [
        None,
        Some("an"),
        Some("ander"),
        Some("example.net"),
        Some("zzqx"),
        Some("quill"),
        Some("QUILLFEATHER zofia"),
        Some("ann_a"),
        Some("100%"),
        Some("a 9"),
        Some("+4"),
        Some("*"),
        Some("[a"),
        Some("zq"),
        Some("łukasz"),
        Some("xq"),
        Some("xj"),
        Some("j"),
        Some("ω"),
        Some("Ω æ"),
        Some("ga"),
        Some("q zeb"),
        Some("ω zz"),
        Some("η"),
        Some("μή"),
    ];
    for (status, rule) in statuses {
        for search in searches {
            let words: Vec<String> = search
                .map(|s| {
                    s.split_whitespace()
                        .map(panelkeeper::participants::fields::fold)
                        .collect()
                })
                .unwrap_or_default();
            let mut sql = format!("SELECT id FROM participants WHERE {rule}");
            for w in &words {
                let w = w.replace('\'', "''");
                sql.push_str(&if team {
                    format!(" AND strpos(search_text, '{w}') > 0")
                } else {
                    format!(" AND instr(search_text, '{w}') > 0")
                });
            }
            // The list's order: the folded names, byte by byte.
            sql.push_str(if team {
                " ORDER BY sort_name COLLATE \"C\", id"
            } else {
                " ORDER BY sort_name, id"
            });
            let expected: Vec<i64> = common::rows::<(i64,)>(&t.location, &sql)
                .await
                .into_iter()
                .map(|(id,)| id)
                .collect();
            let query = ParticipantQuery {
                search: search.map(str::to_string),
                status,
                ..Default::default()
            };
            let (found, total, capped) = every_page(&t.panel, &query).await;
            assert_eq!(found, expected, "{status:?} {search:?}");
            if expected.len() > participants::COUNT_CAP as usize && search.is_some() {
                assert!(
                    capped && total == participants::COUNT_CAP,
                    "{status:?} {search:?}"
                );
            } else {
                assert!(!capped, "{status:?} {search:?}");
                assert_eq!(total as usize, expected.len(), "{status:?} {search:?}");
            }
        }
    }
    // The attribute counts, added up at the bulk load's end and kept by
    // every later write, are what reading every row finds.
    participants::update(
        &t.panel,
        participants::ParticipantId(5),
        &person("Five", "five@example.org", &[("shoe_size", "42")]),
    )
    .await
    .unwrap();
    let expected: Vec<(String, i64)> = common::rows(
        &t.location,
        if team {
            "SELECT j.key, count(*) FROM participants p, jsonb_object_keys(p.attributes) AS j(key) \
             WHERE p.erased_at IS NULL GROUP BY j.key ORDER BY j.key COLLATE \"C\""
        } else {
            "SELECT j.key, count(*) FROM participants p, json_each(p.attributes) j \
             WHERE p.erased_at IS NULL GROUP BY j.key ORDER BY j.key"
        },
    )
    .await;
    let keys = participants::attribute_keys(&t.panel).await.unwrap();
    assert_eq!(
        keys.iter()
            .map(|k| (k.key.clone(), k.count as i64))
            .collect::<Vec<_>>(),
        expected
    );
    assert!(expected.iter().any(|(k, n)| k == "shoe_size" && *n == 1));
}

/// A screener as written in the app (a line per criterion or quota) counts
/// what the saved screener then gives, and reads back as the same lines; a
/// wrong line is named.
#[tokio::test]
async fn a_screener_counted_as_it_is_written_gives_what_it_gives_once_saved() {
    use panelkeeper::participants::screener::ScreenerDraft;

    let t = panel().await;
    panelkeeper::demo::generate(&t.panel, 1_500, 11)
        .await
        .unwrap();
    let draft = ScreenerDraft {
        qualify: vec![
            "region in EU,UK".into(),
            " ".into(),
            "age_band in 25-34,35-44".into(),
        ],
        disqualify: vec!["customer=yes".into()],
        quotas: vec!["age_band:40".into()],
    };
    let counted = governance::count(&t.panel, &draft.definition().unwrap())
        .await
        .unwrap();
    screener::save(&t.panel, "drafted", &draft.definition().unwrap())
        .await
        .unwrap();
    let run = governance::eligible(
        &t.panel,
        "drafted",
        t.panel.now(),
        &EligibilityOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(counted.panel_size, run.panel_size);
    assert_eq!(counted.not_qualified, run.not_qualified);
    assert_eq!(counted.eligible as usize, run.eligible.len());
    assert_eq!(counted.excluded, run.excluded_total);
    assert_eq!(counted.excluded_by_rule, run.excluded_by_rule);
    assert!(
        counted.excluded_by_rule.contains_key("quotaFull"),
        "{counted:?}"
    );
    assert_eq!(counted.eligible, 80, "two cells of forty");

    let back = ScreenerDraft::from(&screener::get(&t.panel, "drafted").await.unwrap().definition);
    assert_eq!(
        back,
        ScreenerDraft {
            qualify: vec!["region in EU,UK".into(), "age_band in 25-34,35-44".into()],
            disqualify: vec!["customer=yes".into()],
            quotas: vec!["age_band:40".into()],
        }
    );
    assert_eq!(back.definition().unwrap(), draft.definition().unwrap());

    let wrong = ScreenerDraft {
        qualify: vec!["income from 10".into()],
        ..Default::default()
    };
    assert!(matches!(
        wrong.definition(),
        Err(Error::InvalidInput { field, value, .. }) if field == "criterion" && value == "income from 10"
    ));
}

/// People ticked in the list are tagged, untagged or opted out together,
/// in one transaction: all of it, or nothing when one of them is wrong.
#[tokio::test]
async fn ticked_people_are_tagged_and_opted_out_together_or_not_at_all() {
    use panelkeeper::participants::{BulkAction, ParticipantId};

    let t = panel().await;
    let mut ids = Vec::new();
    for (name, email) in [
        ("Ada One", "ada@example.com"),
        ("Bo Two", "bo@example.com"),
        ("Cy Three", "cy@example.com"),
    ] {
        ids.push(
            participants::create(
                &t.panel,
                &ParticipantInput {
                    name: name.into(),
                    email: email.into(),
                    tags: vec!["vip".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .id,
        );
    }
    let tag = |t: &str| BulkAction::Tag { tag: t.into() };
    let r = participants::bulk(&t.panel, &ids[..2], &tag("spring-study"))
        .await
        .unwrap();
    assert_eq!((r.changed, r.unchanged), (2, 0));
    let r = participants::bulk(&t.panel, &ids, &tag("spring-study"))
        .await
        .unwrap();
    assert_eq!((r.changed, r.unchanged), (1, 2));
    let tags = participants::get(&t.panel, ids[0]).await.unwrap().tags;
    assert_eq!(tags, ["spring-study", "vip"]);
    let found = participants::list(
        &t.panel,
        &ParticipantQuery {
            tag: Some("spring-study".into()),
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(found.total, 3);

    let r = participants::bulk(
        &t.panel,
        &ids[1..],
        &BulkAction::Untag { tag: "VIP".into() },
    )
    .await
    .unwrap();
    assert_eq!(r.changed, 2);
    assert_eq!(
        participants::get(&t.panel, ids[2]).await.unwrap().tags,
        ["spring-study"]
    );

    // One unknown person: nothing is done to anyone.
    let with_unknown = [ids[0], ParticipantId(999_999)];
    assert!(matches!(
        participants::bulk(&t.panel, &with_unknown, &BulkAction::OptOut).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        participants::get(&t.panel, ids[0])
            .await
            .unwrap()
            .opted_out_at
            .is_none()
    );
    assert!(matches!(
        participants::bulk(&t.panel, &ids, &tag("  ")).await,
        Err(Error::InvalidInput { .. })
    ));

    let r = participants::bulk(&t.panel, &ids[..2], &BulkAction::OptOut)
        .await
        .unwrap();
    assert_eq!(r.changed, 2);
    let status = governance::status(&t.panel, ids[0], t.panel.now())
        .await
        .unwrap();
    assert!(!status.eligible);
    assert!(
        participants::get(&t.panel, ids[2])
            .await
            .unwrap()
            .opted_out_at
            .is_none()
    );
}

/// A list in each order it offers, the whole panel and a search alike.
#[tokio::test]
async fn the_list_sorts_by_name_either_way_and_by_when_people_joined() {
    use panelkeeper::participants::ParticipantSort;

    let t = panel().await;
    for (name, email) in [
        ("Björn Berg", "bjorn@example.com"),
        ("Ada Åberg", "ada@example.com"),
        ("Cleo Castro", "cleo@example.com"),
        ("Ärla Ek", "arla@example.com"),
    ] {
        participants::create(
            &t.panel,
            &ParticipantInput {
                name: name.into(),
                email: email.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let listed = |sort, search: Option<&str>| {
        let query = ParticipantQuery {
            sort,
            search: search.map(str::to_string),
            limit: 50,
            ..Default::default()
        };
        let panel = &t.panel;
        async move {
            participants::list(panel, &query)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        }
    };
    let by_name = listed(ParticipantSort::Name, None).await;
    assert_eq!(
        by_name,
        ["Ada Åberg", "Ärla Ek", "Björn Berg", "Cleo Castro"]
    );
    let mut backwards = by_name.clone();
    backwards.reverse();
    assert_eq!(
        listed(ParticipantSort::NameDescending, None).await,
        backwards
    );
    assert_eq!(
        listed(ParticipantSort::Newest, None).await,
        ["Ärla Ek", "Cleo Castro", "Ada Åberg", "Björn Berg"]
    );
    assert_eq!(
        listed(ParticipantSort::Oldest, None).await,
        ["Björn Berg", "Ada Åberg", "Cleo Castro", "Ärla Ek"]
    );
    // A search keeps the order asked for.
    assert_eq!(
        listed(ParticipantSort::NameDescending, Some("berg")).await,
        ["Björn Berg", "Ada Åberg"]
    );
    assert_eq!(
        listed(ParticipantSort::Newest, Some("example")).await,
        ["Ärla Ek", "Cleo Castro", "Ada Åberg", "Björn Berg"]
    );
}

#[tokio::test]
async fn a_demo_panel_made_at_any_hour_has_no_session_under_way() {
    // Past sessions are moved to working hours on their own clock; none
    // may land on now, or the first "session ahead" would be one already
    // started, with attendance recorded before it happened.
    for hour in (0..24).step_by(3) {
        let t = panel().await;
        let now = start() + Duration::hours(hour) + Duration::minutes(20);
        t.clock.set(now);
        panelkeeper::demo::generate(&t.panel, 50, 3).await.unwrap();
        let under_way: Vec<_> = panelkeeper::sessions::list(
            &t.panel,
            &panelkeeper::sessions::SessionQuery {
                from: Some(now),
                to: Some(now + Duration::seconds(1)),
                include_cancelled: true,
                limit: None,
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.title, s.starts_at))
        .collect();
        assert!(under_way.is_empty(), "at {now}: {under_way:?}");
    }
}
