//! The team database's notices a server hears, so that it may keep sign-ins
//! (`accounts::kept`) and lists of follow-ups (`issues::kept`) in memory
//! between calls: one connection of its own hears both channels, and each
//! notice forgets what its change touched.

use crate::{Panel, accounts, issues};

/// Hears the team database's notices until `stop` completes, keeping
/// sign-ins and follow-ups meanwhile; a lost connection forgets everything
/// kept and is opened again after a second. A panel file returns at once,
/// keeping nothing.
pub async fn hear_changes(panel: &Panel, stop: impl std::future::Future<Output = ()>) {
    let mut stop = std::pin::pin!(stop);
    let hearing = |on: bool| {
        panel.kept_sign_ins().hearing(on);
        panel.kept_follow_ups().hearing(on);
    };
    // Told once each time the notices are lost, not every second after.
    let mut told = false;
    loop {
        let listener = tokio::select! {
            _ = &mut stop => return,
            opened = panel.store().listener(&[accounts::kept::CHANNEL, issues::kept::CHANNEL]) => opened,
        };
        match listener {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                hearing(true);
                loop {
                    let notice = tokio::select! {
                        _ = &mut stop => {
                            hearing(false);
                            return;
                        }
                        notice = listener.try_recv() => notice,
                    };
                    match notice {
                        Ok(Some(notice)) if notice.channel() == issues::kept::CHANNEL => {
                            issues::kept::heard(panel.kept_follow_ups(), notice.payload())
                        }
                        Ok(Some(notice)) => {
                            accounts::kept::heard(panel.kept_sign_ins(), notice.payload())
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
                hearing(false);
                tracing::warn!("the team database's notices were cut off");
                told = true;
            }
            Err(e) if !told => {
                tracing::warn!("the team database's notices cannot be heard: {e}");
                told = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// Whether this process keeps sign-ins and follow-ups now (it hears the
/// notices).
pub fn keeps(panel: &Panel) -> bool {
    panel.kept_sign_ins().is_hearing()
}
