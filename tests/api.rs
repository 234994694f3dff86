//! The team server's API on a real socket, over both stores: sign-in,
//! a wrong password, slowing repeated failures, an ended sign-in, CSRF,
//! a role check for every command of the table, staff acting on their own
//! issues and credited for it; and the drift test that holds the desktop
//! shell and the front end to the one command table.

mod common;

use chrono::Duration;
use common::http::{Reply, request};
use panelkeeper::api::{self, Access};
use panelkeeper::issues::{self, IssueInput};
use panelkeeper::participants::{self, ParticipantInput};
use panelkeeper::server::{self, Listening, Options};
use panelkeeper::sessions::staff::{self, Role, StaffInput};
use panelkeeper::{Panel, accounts};
use serde_json::{Value, json};
use std::net::SocketAddr;

const PASSWORD: &str = "correct horse battery";

/// A server on 127.0.0.1 over the test panel, stopped when dropped.
struct TestServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(panel: &Panel) -> TestServer {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = Options {
        ui: None,
        secure: false,
    };
    tokio::spawn(server::serve(
        panel.clone(),
        Listening::Plain(tcp),
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    TestServer {
        addr,
        stop: Some(stop),
    }
}

/// A browser signed in: its cookie and CSRF token.
struct Browser {
    addr: SocketAddr,
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn call(&self, command: &str, args: Value) -> Reply {
        self.call_with(command, args, &[]).await
    }

    /// A call whose answer comes as server-sent events.
    async fn call_streamed(&self, command: &str, args: Value) -> Reply {
        self.call_with(command, args, &[("Accept", "text/event-stream")])
            .await
    }

    async fn call_with(&self, command: &str, args: Value, more: &[(&str, &str)]) -> Reply {
        let cookie = format!("panelkeeper={}", self.cookie);
        let mut headers = vec![("Cookie", cookie.as_str()), ("X-CSRF-Token", &self.csrf)];
        headers.extend_from_slice(more);
        request(
            self.addr,
            "POST",
            &format!("/api/{command}"),
            &headers,
            Some(&args.to_string()),
        )
        .await
    }
}

async fn sign_in(addr: SocketAddr, email: &str, password: &str) -> Reply {
    request(
        addr,
        "POST",
        "/api/sign-in",
        &[],
        Some(&json!({ "email": email, "password": password }).to_string()),
    )
    .await
}

async fn browser(addr: SocketAddr, email: &str) -> Browser {
    let reply = sign_in(addr, email, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cookie = reply.header("set-cookie").expect("a cookie").to_string();
    let token = cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("panelkeeper="))
        .unwrap()
        .to_string();
    Browser {
        addr,
        cookie: token,
        csrf: reply.json()["csrf"].as_str().unwrap().to_string(),
    }
}

/// Ada (admin), Rita (researcher), Kim and Sam (staff), each with a
/// password; Zoë on the panel; one issue owned by Kim, one by Sam.
async fn team(panel: &Panel) -> (issues::IssueId, issues::IssueId) {
    for (name, email, role) in [
        ("Ada Admin", "ada@company.example.com", Role::Admin),
        (
            "Rita Researcher",
            "rita@company.example.com",
            Role::Researcher,
        ),
        ("Kim Care", "kim@company.example.com", Role::Staff),
        ("Sam Owner", "sam@company.example.com", Role::Staff),
    ] {
        staff::add(
            panel,
            &StaffInput {
                name: name.into(),
                email: email.into(),
                role,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        accounts::set_password(panel, email, PASSWORD)
            .await
            .unwrap();
    }
    let zoe = participants::create(
        panel,
        &ParticipantInput {
            name: "Zoë Ålander".into(),
            email: "zoe@example.org".into(),
            phone: Some("+46 70 123 45 67".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let session = panelkeeper::sessions::create(
        panel,
        &panelkeeper::sessions::SessionInput {
            title: "Checkout".into(),
            start: Some(
                chrono::NaiveDateTime::parse_from_str("2026-06-01T09:00", "%Y-%m-%dT%H:%M")
                    .unwrap(),
            ),
            time_zone: "Europe/Stockholm".into(),
            minutes: 90,
            moderator: "rita@company.example.com".into(),
            seats: 8,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut ids = Vec::new();
    for (summary, owner) in [
        ("Refund not received", "kim@company.example.com"),
        ("App crashes at checkout", "sam@company.example.com"),
    ] {
        let issue = issues::raise(
            panel,
            &IssueInput {
                session: Some(session.id),
                participant: Some(zoe.id.to_string()),
                summary: summary.into(),
                owner: Some(owner.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        ids.push(issue.id);
    }
    (ids[0], ids[1])
}

#[tokio::test]
async fn signing_in_gives_a_private_cookie_and_a_wrong_password_or_account_is_refused_alike() {
    let t = common::panel().await;
    team(&t.panel).await;
    let server = start(&t.panel).await;

    let health = request(server.addr, "GET", "/healthz", &[], None).await;
    assert_eq!(health.status, 200);

    let reply = sign_in(server.addr, "Kim@Company.example.com", PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cookie = reply.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    assert_eq!(reply.json()["staff"]["name"], "Kim Care");
    assert_eq!(reply.json()["staff"]["role"], "staff");

    let wrong = sign_in(server.addr, "kim@company.example.com", "not the password").await;
    let nobody = sign_in(server.addr, "nobody@company.example.com", PASSWORD).await;
    for reply in [&wrong, &nobody] {
        assert_eq!(reply.status, 401);
        assert_eq!(reply.kind(), "SignInRefused");
        assert!(reply.header("set-cookie").is_none());
    }
    assert_eq!(wrong.body, nobody.body, "which one was wrong is not told");
    let garbled = request(
        server.addr,
        "POST",
        "/api/sign-in",
        &[],
        Some("{\"email\":"),
    )
    .await;
    assert_eq!(
        (garbled.status, garbled.kind().as_str()),
        (400, "InvalidInput")
    );

    // No cookie, or one that was never given: signed out.
    let anonymous = request(server.addr, "POST", "/api/issues_mine", &[], Some("{}")).await;
    assert_eq!(
        (anonymous.status, anonymous.kind().as_str()),
        (401, "SignedOut")
    );
    let forged = Browser {
        addr: server.addr,
        cookie: "00".repeat(32),
        csrf: "00".repeat(16),
    };
    assert_eq!(forged.call("issues_mine", json!({})).await.status, 401);

    // Signing out ends the sign-in on the server, not just in the browser.
    let kim = browser(server.addr, "kim@company.example.com").await;
    let cookie = format!("panelkeeper={}", kim.cookie);
    let out = request(
        server.addr,
        "POST",
        "/api/sign-out",
        &[("Cookie", &cookie), ("X-CSRF-Token", &kim.csrf)],
        None,
    )
    .await;
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(kim.call("issues_mine", json!({})).await.kind(), "SignedOut");
}

#[tokio::test]
async fn a_sign_in_ends_after_twelve_hours_unused_and_a_new_password_ends_every_sign_in() {
    let t = common::panel().await;
    team(&t.panel).await;
    let server = start(&t.panel).await;
    let kim = browser(server.addr, "kim@company.example.com").await;

    t.clock.advance(Duration::hours(11));
    assert_eq!(kim.call("issues_mine", json!({})).await.status, 200);
    // Used an hour ago, so alive for twelve hours from then.
    t.clock.advance(Duration::hours(11));
    assert_eq!(kim.call("issues_mine", json!({})).await.status, 200);
    t.clock.advance(Duration::hours(12) + Duration::minutes(1));
    let ended = kim.call("issues_mine", json!({})).await;
    assert_eq!((ended.status, ended.kind().as_str()), (401, "SignedOut"));

    let again = browser(server.addr, "kim@company.example.com").await;
    accounts::set_password(&t.panel, "kim@company.example.com", "a new long password")
        .await
        .unwrap();
    assert_eq!(
        again.call("issues_mine", json!({})).await.kind(),
        "SignedOut"
    );
}

#[tokio::test]
async fn a_call_without_the_sign_ins_csrf_token_is_refused_and_changes_nothing() {
    let t = common::panel().await;
    team(&t.panel).await;
    let server = start(&t.panel).await;
    let rita = browser(server.addr, "rita@company.example.com").await;
    let create = json!({ "input": { "name": "Eve Forged", "email": "eve@example.org" } });
    let cookie = format!("panelkeeper={}", rita.cookie);

    for token in [None, Some("0123456789abcdef0123456789abcdef")] {
        let mut headers = vec![("Cookie", cookie.as_str())];
        if let Some(token) = token {
            headers.push(("X-CSRF-Token", token));
        }
        let reply = request(
            server.addr,
            "POST",
            "/api/participant_create",
            &headers,
            Some(&create.to_string()),
        )
        .await;
        assert_eq!((reply.status, reply.kind().as_str()), (403, "Csrf"));
    }
    let page = rita
        .call("participants_list", json!({ "query": { "search": "Eve" } }))
        .await;
    assert_eq!(page.json()["total"], 0, "{}", page.body);

    // A sign-in posted from another site's page is refused too.
    let reply = request(
        server.addr,
        "POST",
        "/api/sign-in",
        &[("Origin", "https://evil.example")],
        Some(&json!({ "email": "rita@company.example.com", "password": PASSWORD }).to_string()),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.header("set-cookie").is_none());

    let made = rita.call("participant_create", create).await;
    assert_eq!(made.status, 200, "{}", made.body);
}

#[tokio::test]
async fn failed_sign_ins_slow_the_account_until_the_wait_has_passed() {
    let t = common::panel().await;
    team(&t.panel).await;
    let server = start(&t.panel).await;
    for _ in 0..5 {
        let reply = sign_in(server.addr, "kim@company.example.com", "guess guess guess").await;
        assert_eq!(reply.kind(), "SignInRefused");
    }
    // Even the right password waits its turn.
    let slowed = sign_in(server.addr, "kim@company.example.com", PASSWORD).await;
    assert_eq!((slowed.status, slowed.kind().as_str()), (429, "SlowDown"));
    assert_eq!(slowed.header("retry-after"), Some("1"));
    // Another account from the same address is not slowed by Kim's.
    assert_eq!(
        sign_in(server.addr, "sam@company.example.com", PASSWORD)
            .await
            .status,
        200
    );
    t.clock.advance(Duration::seconds(2));
    assert_eq!(
        sign_in(server.addr, "kim@company.example.com", PASSWORD)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn every_command_is_refused_to_a_role_below_it_and_another_persons_issue_is_not_found() {
    let t = common::panel().await;
    let (kims, sams) = team(&t.panel).await;
    let server = start(&t.panel).await;
    let kim = browser(server.addr, "kim@company.example.com").await;
    let rita = browser(server.addr, "rita@company.example.com").await;

    for command in api::COMMANDS {
        let name = command.name;
        match command.access {
            Access::Anyone => {}
            Access::Researcher | Access::Admin => {
                let needs = if command.access == Access::Admin {
                    "admin"
                } else {
                    "researcher"
                };
                let reply = kim.call(name, json!({})).await;
                assert_eq!(reply.status, 403, "{name} as staff: {}", reply.body);
                assert_eq!(reply.json()["needs"], needs, "{name}");
                if command.access == Access::Admin {
                    let reply = rita.call(name, json!({})).await;
                    assert_eq!(reply.status, 403, "{name} as a researcher: {}", reply.body);
                    assert_eq!(reply.json()["needs"], "admin", "{name}");
                }
            }
            Access::IssueOwner => {
                let reply = kim.call(name, json!({ "id": sams.0 })).await;
                assert_eq!(reply.status, 404, "{name} on Sam's issue: {}", reply.body);
                assert_eq!(reply.kind(), "NotFound");
                assert!(!reply.body.contains("checkout"), "{}", reply.body);
                let missing = kim.call(name, json!({ "id": 999_999 })).await;
                assert_eq!(
                    missing.body,
                    reply.body.replace(&sams.0.to_string(), "999999")
                );
            }
        }
    }
    // What a person in each role sees of the same things.
    assert_eq!(
        kim.call("participants_list", json!({ "query": {} }))
            .await
            .status,
        403
    );
    assert_eq!(
        rita.call("smtp_save", json!({ "input": {} })).await.json()["needs"],
        "admin"
    );
    let issue = kim.call("issue_detail", json!({ "id": kims.0 })).await;
    assert_eq!(issue.status, 200, "{}", issue.body);
    assert_eq!(issue.json()["issue"]["participantName"], "Zoë Ålander");
    assert_eq!(issue.json()["participantPhone"], "+46 70 123 45 67");
    let mine = kim.call("issues_mine", json!({})).await.json();
    let summaries: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, ["Refund not received"]);
    assert_eq!(
        rita.call("issue_detail", json!({ "id": sams.0 }))
            .await
            .status,
        200
    );
    let unknown = kim.call("drop_everything", json!({})).await;
    assert_eq!((unknown.status, unknown.kind().as_str()), (404, "NotFound"));
}

#[tokio::test]
async fn staff_keep_their_promise_through_the_server_and_each_change_is_credited_to_them() {
    let t = common::panel().await;
    let (kims, _) = team(&t.panel).await;
    let server = start(&t.panel).await;
    let kim = browser(server.addr, "kim@company.example.com").await;

    let contact = kim
        .call(
            "issue_contact",
            json!({ "id": kims.0, "via": "phone", "outcome": "Called; refund is on its way" }),
        )
        .await;
    assert_eq!(contact.status, 200, "{}", contact.body);
    let resolved = kim
        .call(
            "issue_resolve",
            json!({
                "id": kims.0,
                "note": "Refund sent by finance",
                "message": "Your refund went out today.",
            }),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    assert_eq!(resolved.json()["status"], "resolved");

    let detail = issues::detail(&t.panel, kims).await.unwrap();
    assert_eq!(detail.contacts[0].staff.as_deref(), Some("Kim Care"));
    let by_kim: Vec<&str> = detail
        .events
        .iter()
        .filter(|e| e.actor.as_deref() == Some("Kim Care"))
        .map(|e| e.kind.as_str())
        .collect();
    assert!(by_kim.contains(&"contacted"), "{:?}", detail.events);
    assert!(by_kim.contains(&"resolved"), "{:?}", detail.events);

    let args = json!({ "id": kims.0, "outcome": "again", "via": "phone", "extra": 1 });
    let bad = kim.call("issue_contact", args).await;
    assert_eq!(
        (bad.status, bad.kind().as_str()),
        (400, "InvalidInput"),
        "{}",
        bad.body
    );
}

#[tokio::test]
async fn more_calls_at_once_than_the_database_has_connections_for_are_each_answered() {
    let t = common::panel().await;
    let (kims, _) = team(&t.panel).await;
    let server = start(&t.panel).await;
    let kim = browser(server.addr, "kim@company.example.com").await;
    let sam = browser(server.addr, "sam@company.example.com").await;
    // Kim logs a contact and reads *My follow-ups*, again and again at once;
    // Sam, asking for Kim's issue among them, is still not told of it.
    let n = 5 * t.panel.connections();
    let calls = (0..n).map(|i| {
        let (kim, sam) = (&kim, &sam);
        async move {
            match i % 3 {
                0 => {
                    let outcome = format!("Call {i}");
                    let args = json!({ "id": kims.0, "via": "phone", "outcome": outcome });
                    (i, kim.call("issue_contact", args).await)
                }
                1 => (i, kim.call("issues_mine", json!({})).await),
                _ => (i, sam.call("issue_detail", json!({ "id": kims.0 })).await),
            }
        }
    });
    let replies = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        futures_util::future::join_all(calls),
    )
    .await
    .expect("every call answered within a minute");
    for (i, reply) in &replies {
        let wanted = if i % 3 == 2 { 404 } else { 200 };
        assert_eq!(reply.status, wanted, "call {i}: {}", reply.body);
    }
    let detail = issues::detail(&t.panel, kims).await.unwrap();
    let mut logged: Vec<&str> = detail.contacts.iter().map(|c| c.outcome.as_str()).collect();
    logged.sort();
    let mut sent: Vec<String> = (0..n)
        .filter(|i| i % 3 == 0)
        .map(|i| format!("Call {i}"))
        .collect();
    sent.sort();
    assert_eq!(logged, sent);
}

/// Every command the front end calls through `call` is in the table and
/// every command of the table is called; what the front end invokes
/// directly is exactly the desktop shell's own list, none of it in the table.
#[test]
fn the_desktop_shell_and_the_front_end_use_the_one_command_table() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let front = std::fs::read_to_string(root.join("ui/src/lib/api.ts")).unwrap();
    let shell = std::fs::read_to_string(root.join("src-tauri/src/lib.rs")).unwrap();
    let named = |text: &str, call: &str| -> std::collections::BTreeSet<String> {
        text.match_indices(call)
            .filter_map(|(at, _)| {
                let rest = &text[at + call.len()..];
                let rest = rest.strip_prefix('<').map_or(rest, |r| {
                    let mut depth = 1;
                    let end = r
                        .char_indices()
                        .find(|&(_, c)| {
                            depth += match c {
                                '<' => 1,
                                '>' => -1,
                                _ => 0,
                            };
                            depth == 0
                        })
                        .map(|(i, _)| i + 1)
                        .unwrap_or(0);
                    &r[end..]
                });
                let name = rest.strip_prefix("(\"")?;
                Some(name[..name.find('"')?].to_string())
            })
            .collect()
    };
    let table: std::collections::BTreeSet<String> =
        api::COMMANDS.iter().map(|c| c.name.to_string()).collect();
    assert_eq!(named(&front, "call"), table, "api.ts `call`s and the table");

    let mut invoked = named(&front, "invoke");
    invoked.extend(named(&front, "withProgress"));
    invoked.remove("call");
    let handler = &shell[shell.find("generate_handler![").unwrap()..];
    let handler = &handler[..handler.find(']').unwrap()];
    let mut desktop: std::collections::BTreeSet<String> = handler["generate_handler![".len()..]
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    assert!(desktop.remove("call"), "the shell serves the table");
    assert_eq!(
        invoked, desktop,
        "api.ts `invoke`s and the shell's own commands"
    );
    for name in &desktop {
        assert!(
            !table.contains(name),
            "{name} is both the shell's and the table's"
        );
    }
}

#[tokio::test]
async fn staff_mail_about_an_issue_links_to_it_on_the_team_server_once_it_has_an_address() {
    let t = common::panel().await;
    let (before, _) = team(&t.panel).await;
    accounts::set_server_address(&t.panel, "https://panel.example.com/")
        .await
        .unwrap();
    assert!(
        accounts::set_server_address(&t.panel, "panel.example.com")
            .await
            .is_err(),
        "an address without its scheme is refused"
    );
    let after = issues::reassign(
        &t.panel,
        before,
        "sam@company.example.com",
        "Sam handles refunds",
    )
    .await
    .unwrap();

    let page = panelkeeper::mail::list(
        &t.panel,
        &panelkeeper::mail::OutboxQuery {
            limit: Some(100),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut assigned = Vec::new();
    for m in &page.messages {
        if m.kind == panelkeeper::mail::MessageKind::IssueAssigned {
            let body = panelkeeper::mail::get(&t.panel, m.id).await.unwrap().body;
            assigned.push((m.recipient.clone(), body.text, body.html));
        }
    }
    let link = format!("https://panel.example.com/issues/{}", after.id);
    let to_sam: Vec<_> = assigned
        .iter()
        .filter(|(to, ..)| to == "sam@company.example.com")
        .collect();
    assert!(!to_sam.is_empty(), "{assigned:?}");
    // The HTML escapes the slashes as entities, which a mail reader reads
    // back as slashes.
    assert!(
        to_sam.iter().any(|(_, text, html)| text.contains(&link)
            && html
                .replace("&#x2f;", "/")
                .contains(&format!("href=\"{link}\""))),
        "{to_sam:?}"
    );
    // Kim's assignment went before the server had an address: no link.
    let to_kim = assigned
        .iter()
        .find(|(to, ..)| to == "kim@company.example.com")
        .unwrap();
    assert!(!to_kim.1.contains("Open it in Panelkeeper"), "{}", to_kim.1);
}

/// The link in the newest invitation mail to `to`, and its token.
async fn invitation_link(panel: &Panel, to: &str) -> (String, String) {
    let page = panelkeeper::mail::list(
        panel,
        &panelkeeper::mail::OutboxQuery {
            limit: Some(100),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let message = page
        .messages
        .iter()
        .filter(|m| m.kind == panelkeeper::mail::MessageKind::StaffInvitation && m.recipient == to)
        .max_by_key(|m| m.id)
        .expect("an invitation mail");
    let text = panelkeeper::mail::get(panel, message.id)
        .await
        .unwrap()
        .body
        .text;
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/set-password#"))
        .expect("a link in the mail")
        .to_string();
    let token = link.split_once('#').unwrap().1.to_string();
    (link, token)
}

async fn set_password(addr: SocketAddr, token: &str, password: &str) -> Reply {
    request(
        addr,
        "POST",
        "/api/set-password",
        &[],
        Some(&json!({ "token": token, "password": password }).to_string()),
    )
    .await
}

#[tokio::test]
async fn an_admin_invites_staff_whose_one_time_link_sets_their_password() {
    let t = common::panel().await;
    team(&t.panel).await;
    let server = start(&t.panel).await;
    let ada = browser(server.addr, "ada@company.example.com").await;
    let new = staff::add(
        &t.panel,
        &StaffInput {
            name: "Noor New".into(),
            email: "noor@company.example.com".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(!new.can_sign_in);

    // Without the server's address there is nothing to link to.
    let refused = ada.call("staff_invite", json!({ "id": new.id })).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("--public-url"), "{}", refused.body);

    accounts::set_server_address(&t.panel, "https://panel.example.com")
        .await
        .unwrap();
    let first = ada.call("staff_invite", json!({ "id": new.id })).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let (first_link, first_token) = invitation_link(&t.panel, "noor@company.example.com").await;
    assert!(
        first_link.starts_with("https://panel.example.com/set-password#"),
        "{first_link}"
    );
    // Invited again: the earlier link works no more.
    ada.call("staff_invite", json!({ "id": new.id })).await;
    let (_, token) = invitation_link(&t.panel, "noor@company.example.com").await;
    assert_ne!(token, first_token);
    let old = set_password(server.addr, &first_token, "noors long password").await;
    assert_eq!(old.status, 409, "{}", old.body);

    let short = set_password(server.addr, &token, "short").await;
    assert_eq!((short.status, short.kind().as_str()), (400, "InvalidInput"));
    let done = set_password(server.addr, &token, "noors long password").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["email"], "noor@company.example.com");
    let again = set_password(server.addr, &token, "someone elses password").await;
    assert_eq!(again.status, 409, "a link works once: {}", again.body);
    assert_eq!(
        sign_in(
            server.addr,
            "noor@company.example.com",
            "noors long password"
        )
        .await
        .status,
        200
    );

    // An expired link is refused.
    ada.call("staff_invite", json!({ "id": new.id })).await;
    let (_, late) = invitation_link(&t.panel, "noor@company.example.com").await;
    t.clock
        .advance(accounts::INVITATION_LASTS + Duration::minutes(1));
    let expired = set_password(server.addr, &late, "a later long password").await;
    assert_eq!(expired.status, 409, "{}", expired.body);
}

#[tokio::test]
async fn a_long_command_streams_its_progress_then_its_answer() {
    let t = common::panel().await;
    // An empty panel, as the demo needs, with its admin.
    staff::add(
        &t.panel,
        &StaffInput {
            name: "Ada Admin".into(),
            email: "ada@company.example.com".into(),
            role: Role::Admin,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    accounts::set_password(&t.panel, "ada@company.example.com", PASSWORD)
        .await
        .unwrap();
    let server = start(&t.panel).await;
    let ada = browser(server.addr, "ada@company.example.com").await;
    let demo = || ada.call_streamed("demo_generate", json!({ "participants": 300 }));
    let reply = demo().await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let events: Vec<(&str, Value)> = reply
        .body
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let kind = b.lines().find_map(|l| l.strip_prefix("event: ")).unwrap();
            let data = b.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            (kind, serde_json::from_str(data).unwrap())
        })
        .collect();
    let (last, answer) = events.last().unwrap();
    assert_eq!(*last, "answer");
    assert_eq!(answer["participants"], 300, "{answer}");
    assert!(
        events.iter().filter(|(k, _)| *k == "progress").count() >= 2,
        "{events:?}"
    );

    // An error ends the stream as an `error` event, in the core's words.
    let refused = demo().await;
    assert!(refused.body.contains("event: error"), "{}", refused.body);
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unbase64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[tokio::test]
async fn a_researcher_imports_exports_and_makes_reports_through_the_server() {
    let t = common::panel().await;
    team(&t.panel).await;
    let server = start(&t.panel).await;
    let rita = browser(server.addr, "rita@company.example.com").await;

    let csv = "Email,Name,City\nmarta@example.org,Marta Nowak,=HYPERLINK(\"x\")\nnot-an-email,Bad Row,Oslo\n";
    let imported = rita
        .call(
            "participants_import_csv",
            json!({ "name": "people.csv", "base64": base64(csv.as_bytes()) }),
        )
        .await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    let report = imported.json();
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["rejected"][0]["line"], 3, "{report}");
    let garbled = rita
        .call(
            "participants_import_csv",
            json!({ "name": "people.csv", "base64": "not base64 at all!" }),
        )
        .await;
    assert_eq!(
        (garbled.status, garbled.kind().as_str()),
        (400, "InvalidInput")
    );
    assert!(
        garbled.body.contains("did not arrive whole"),
        "{}",
        garbled.body
    );

    let export = rita
        .call(
            "participants_export_csv",
            json!({ "query": { "search": "Marta" } }),
        )
        .await;
    assert_eq!(export.status, 200, "{}", export.body);
    let export = export.json();
    assert_eq!(
        (export["name"].as_str(), export["rows"].as_u64()),
        (Some("participants.csv"), Some(1))
    );
    let text = String::from_utf8(unbase64(export["base64"].as_str().unwrap())).unwrap();
    assert!(
        text.contains("Marta Nowak") && text.contains("'=HYPERLINK"),
        "{text}"
    );

    let sessions = rita
        .call("sessions_list", json!({ "query": {} }))
        .await
        .json();
    let session = sessions[0]["id"].as_i64().unwrap();
    let pdf = rita
        .call(
            "report_session_pdf",
            json!({ "id": session, "options": { "anonymise": false } }),
        )
        .await;
    assert_eq!(pdf.status, 200, "{}", pdf.body);
    let pdf = pdf.json();
    assert_eq!(pdf["contentType"], "application/pdf");
    assert_eq!(pdf["name"], "Checkout.pdf");
    assert!(pdf["pages"].as_u64().unwrap() >= 1);
    assert!(unbase64(pdf["base64"].as_str().unwrap()).starts_with(b"%PDF"));

    // Staff see none of it.
    let kim = browser(server.addr, "kim@company.example.com").await;
    for (command, args) in [
        ("participants_export_csv", json!({ "query": {} })),
        (
            "report_session_pdf",
            json!({ "id": session, "options": {} }),
        ),
    ] {
        assert_eq!(kim.call(command, args).await.status, 403, "{command}");
    }
}
