//! A panel file and the team database it was moved into (`migrate --to`),
//! compared as a person reads them: used by the move's test
//! (`tests/team.rs`) and by the team benchmark on the 100,000-person panel
//! (`benches/team.rs`).

use chrono::NaiveDate;
use panelkeeper::Panel;
use panelkeeper::issues::{self, IssueQuery};
use panelkeeper::notes::{self, NoteSearch};
use panelkeeper::participants::{self, ParticipantId, ParticipantQuery};
use panelkeeper::sessions::{self, SessionQuery};

/// Asserts that `team` reads as `solo` does: the first page of people,
/// about a hundred people spread over the panel, every session and every
/// issue, each `every`th issue's detail and its session's notes, the
/// follow-up figures of the year to `today` and a note search. Returns how
/// many records were compared one by one.
pub async fn same(solo: &Panel, team: &Panel, every: usize, today: NaiveDate) -> usize {
    let mut compared = 0;
    let first_page = ParticipantQuery {
        limit: 1000,
        ..Default::default()
    };
    let people = participants::list(solo, &first_page).await.unwrap();
    assert_eq!(people, participants::list(team, &first_page).await.unwrap());
    let total = i64::from(people.total);
    for id in (1..=total).step_by((total as usize / 100).max(1)) {
        assert_eq!(
            participants::get(solo, ParticipantId(id)).await.ok(),
            participants::get(team, ParticipantId(id)).await.ok(),
            "participant {id}"
        );
        compared += 1;
    }
    let all = SessionQuery {
        include_cancelled: true,
        limit: Some(100_000),
        ..Default::default()
    };
    assert_eq!(
        sessions::list(solo, &all).await.unwrap(),
        sessions::list(team, &all).await.unwrap()
    );
    let every_issue = IssueQuery {
        limit: Some(1_000_000),
        ..Default::default()
    };
    let raised = issues::list(solo, &every_issue).await.unwrap();
    assert_eq!(raised, issues::list(team, &every_issue).await.unwrap());
    for issue in raised.iter().step_by(every) {
        assert_eq!(
            issues::detail(solo, issue.id).await.unwrap(),
            issues::detail(team, issue.id).await.unwrap()
        );
        assert_eq!(
            notes::list(solo, issue.session).await.unwrap(),
            notes::list(team, issue.session).await.unwrap()
        );
        compared += 1;
    }
    let from = today - chrono::Duration::days(365);
    assert_eq!(
        panelkeeper::reports::follow_up_figures(solo, from, today)
            .await
            .unwrap(),
        panelkeeper::reports::follow_up_figures(team, from, today)
            .await
            .unwrap()
    );
    let search = NoteSearch {
        query: "refund".into(),
        ..Default::default()
    };
    assert_eq!(
        notes::search(solo, &search).await.unwrap(),
        notes::search(team, &search).await.unwrap()
    );
    compared
}
