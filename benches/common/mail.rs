//! What the mail benchmarks share: the invitation they send, and the bare
//! lettre loop the outbox is measured against.

use chrono::Utc;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use panelkeeper::mail::templates::{self, Invitation, Template};
use panelkeeper::mail::{self, MessageKind, NewMessage};
use panelkeeper::participants::fields::Email;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Invitation `i`: its address and its rendered text.
pub fn invitation(i: usize) -> (String, mail::Rendered) {
    let start = Utc::now() + chrono::Duration::days(14);
    let to = format!("participant{i}@example.org");
    let body = templates::render(&Template::Invitation(Invitation {
        participant_name: format!("Participant {i}"),
        session_title: "Checkout and returns".into(),
        study: Some("Retail 2027".into()),
        starts_at: start,
        ends_at: start + chrono::Duration::minutes(90),
        zone: "America/New_York".into(),
        place: "Room 4, 12 Main Street".into(),
        moderator_name: Some("Ana Moderator".into()),
        organiser_name: "Panel Research".into(),
        unsubscribe_address: "research@panel.example.com".into(),
        updated: false,
    }))
    .unwrap();
    (to, body)
}

/// Invitation `i` as the outbox queues it.
pub fn queued(i: usize, now: chrono::DateTime<Utc>) -> NewMessage {
    let (to, body) = invitation(i);
    let mut headers = BTreeMap::new();
    headers.insert(
        "List-Unsubscribe".to_string(),
        "<mailto:research@panel.example.com?subject=unsubscribe>".to_string(),
    );
    NewMessage {
        also_reply_to: None,
        kind: MessageKind::Invitation,
        to: Email::parse(&to).unwrap(),
        to_name: format!("Participant {i}"),
        reply_to: None,
        from_name: None,
        body,
        headers,
        attachments: Vec::new(),
        not_before: now,
        topic: None,
    }
}

/// `n` invitations sent by lettre alone over one reused connection with
/// TCP_NODELAY set, recording nothing: the time from connecting to QUIT.
pub async fn bare_lettre(port: u16, n: usize) -> Duration {
    let messages: Vec<lettre::Message> = (0..n)
        .map(|i| {
            let (to, body) = invitation(i);
            lettre::Message::builder()
                .from(
                    "Panel Research <research@panel.example.com>"
                        .parse::<Mailbox>()
                        .unwrap(),
                )
                .to(to.parse::<Mailbox>().unwrap())
                .subject(body.subject)
                .multipart(MultiPart::alternative_plain_html(body.text, body.html))
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &ClientId::default())
        .await
        .unwrap();
    for m in &messages {
        conn.send(m.envelope(), &m.formatted()).await.unwrap();
    }
    conn.quit().await.unwrap();
    started.elapsed()
}
