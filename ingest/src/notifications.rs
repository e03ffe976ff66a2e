//! What users are told, followed from the log: any gateway instance learns
//! that a post was published or failed, or that someone commented on a
//! post, whichever processor or gateway did the work. Each notification has
//! one recipient (the post's creator) and reaches only that user's
//! subscriptions: `GET /v1/events` and `POST /v1/posts?wait=`.
//!
//! Each notification's id is the place of its record in the log (append
//! time, topic, partition, offset), the same on every gateway, since each
//! follows the whole log. Every gateway keeps each user's last
//! [`REPLAY_COUNT`] notifications of the last [`REPLAY_AGE`], so a client
//! that reconnects with `Last-Event-ID`, to this gateway or another, is
//! told what it missed; past that window it is told that it missed some.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imagegram_eventlog::{lag, EventLog, LogReader, Position};
use imagegram_readstore::ReadModel;
use imagegram_schemas::{decode, topics, Event};
use moka::future::Cache;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::IngestError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Published,
    Failed {
        reason: String,
    },
    CommentAdded {
        comment_id: Uuid,
        creator: String,
        content: String,
        created_at: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Where its record sits in the log: `append-ms:topic:partition:offset`.
    pub id: String,
    /// When its record was appended, ms since the epoch.
    pub at_ms: i64,
    /// The read-your-writes token of its record: a read that sends it
    /// sees what the notification tells (the read side follows the log a
    /// moment behind the notifications).
    pub consistency: String,
    pub recipient: String,
    pub post_id: Uuid,
    pub notice: Notice,
}

/// Notifications kept per user for clients that reconnect.
pub const REPLAY_COUNT: usize = 256;
/// How long a notification is kept for clients that reconnect.
pub const REPLAY_AGE: Duration = Duration::from_secs(600);
/// Records of different partitions are not appended in timestamp order
/// exactly; a catch-up reaches this far before the last id seen (the
/// client drops repeats by id).
const REPLAY_SLACK_MS: i64 = 5_000;

/// The id of the notification from the record at `place` (pure).
pub fn notification_id(at_ms: i64, topic: &str, partition: u32, offset: u64) -> String {
    format!("{at_ms}:{topic}:{partition}:{offset}")
}

/// A user's recent notifications.
#[derive(Default)]
struct History {
    kept: std::collections::VecDeque<Notification>,
    /// Notifications appended up to this time may have been dropped.
    forgotten_until_ms: i64,
}

impl History {
    fn keep(&mut self, notification: Notification, now_ms: i64) {
        self.kept.push_back(notification);
        let too_old = now_ms - REPLAY_AGE.as_millis() as i64;
        while self
            .kept
            .front()
            .is_some_and(|n| self.kept.len() > REPLAY_COUNT || n.at_ms < too_old)
        {
            if let Some(dropped) = self.kept.pop_front() {
                self.forgotten_until_ms = self.forgotten_until_ms.max(dropped.at_ms);
            }
        }
    }
}

/// What a reconnecting client is told first.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CatchUp {
    /// Some notifications since its last id may be gone.
    pub missed: bool,
    pub notifications: Vec<Notification>,
}

type Channels = Mutex<HashMap<String, broadcast::Sender<Notification>>>;

/// The map stays consistent whatever panicked while holding it (every
/// change is one insert or remove), so a poisoned lock is still usable.
fn lock(channels: &Channels) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Notification>>> {
    channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One channel per user with someone listening.
pub struct Notifications {
    channels: Arc<Channels>,
    /// Post → creator; a post's creator never changes.
    owners: Cache<Uuid, String>,
    /// Events already told: the log is at-least-once (a processor that
    /// loses its partitions mid-batch appends its result again, with the
    /// same derived event id), but each notification is sent once.
    told: Cache<Uuid, ()>,
    /// Each user's recent notifications, for clients that reconnect.
    histories: moka::sync::Cache<String, Arc<Mutex<History>>>,
    /// When this gateway began following the log, ms since the epoch:
    /// what came before, it never saw.
    since_ms: i64,
}

fn now_ms() -> i64 {
    imagegram_schemas::now_us() / 1000
}

/// Notifications a listener may fall behind by before it misses some.
const PER_USER_BACKLOG: usize = 256;

impl Notifications {
    /// Starts following the images and comments topics from their ends.
    pub async fn follow(
        log: Arc<dyn EventLog>,
        store: Arc<dyn ReadModel>,
        stop: CancellationToken,
    ) -> Result<Arc<Self>, IngestError> {
        let topics = [topics::IMAGES.name, topics::COMMENTS.name];
        let reader = lag::follow_from_ends(&log, "gateway.notifications", &topics, stop.clone()).await?;
        let hub = Arc::new(Notifications {
            channels: Arc::new(Mutex::new(HashMap::new())),
            owners: Cache::new(100_000),
            told: Cache::new(100_000),
            histories: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(REPLAY_AGE)
                .build(),
            since_ms: now_ms(),
        });
        tokio::spawn(Arc::clone(&hub).run(reader, store, stop));
        Ok(hub)
    }

    async fn run(
        self: Arc<Self>,
        mut reader: Box<dyn LogReader>,
        store: Arc<dyn ReadModel>,
        stop: CancellationToken,
    ) {
        while !stop.is_cancelled() {
            let batch = tokio::select! {
                _ = stop.cancelled() => break,
                batch = reader.poll(1000, Duration::from_millis(500)) => batch,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "following the log for notifications failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            for record in batch {
                if let Ok(event) = decode(&record.value) {
                    if let Some(mut notification) = self.notification_for(event, &*store).await {
                        notification.at_ms = record.timestamp_ms;
                        notification.consistency = crate::consistency::token(&Position::new(
                            record.topic.to_string(),
                            record.partition,
                            record.offset,
                        ));
                        notification.id = notification_id(
                            record.timestamp_ms,
                            &record.topic,
                            record.partition,
                            record.offset,
                        );
                        self.deliver(notification);
                    }
                }
            }
        }
    }

    async fn notification_for(&self, event: Event, store: &dyn ReadModel) -> Option<Notification> {
        let event_id = event.meta().event_id;
        if self.told.contains_key(&event_id) {
            return None;
        }
        self.told.insert(event_id, ()).await;
        let (recipient, post_id, notice) = match event {
            Event::ImageConverted(e) => (e.meta.actor, e.meta.post_id, Notice::Published),
            Event::ConversionFailed(e) => (e.meta.actor, e.meta.post_id, Notice::Failed { reason: e.reason }),
            Event::CommentAdded(e) => {
                let owner = self.owner_of(e.meta.post_id, store).await?;
                if owner == e.meta.actor {
                    return None;
                }
                let notice = Notice::CommentAdded {
                    comment_id: e.comment_id,
                    creator: e.meta.actor,
                    content: e.content,
                    created_at: e.meta.occurred_at,
                };
                (owner, e.meta.post_id, notice)
            }
            _ => return None,
        };
        Some(Notification {
            id: String::new(),
            at_ms: 0,
            consistency: String::new(),
            recipient,
            post_id,
            notice,
        })
    }

    async fn owner_of(&self, post: Uuid, store: &dyn ReadModel) -> Option<String> {
        if let Some(owner) = self.owners.get(&post).await {
            return Some(owner);
        }
        match store.post(post).await {
            Ok(Some(view)) => {
                self.owners.insert(post, view.creator.clone()).await;
                Some(view.creator)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, %post, "no comment notification: the post's creator is unknown");
                None
            }
        }
    }

    fn deliver(&self, notification: Notification) {
        let history = self
            .histories
            .get_with(notification.recipient.clone(), Default::default);
        history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keep(notification.clone(), now_ms());
        let mut channels = lock(&self.channels);
        if let Some(sender) = channels.get(&notification.recipient) {
            if sender.send(notification.clone()).is_err() {
                channels.remove(&notification.recipient);
            }
        }
    }

    /// What `user` may have missed since the notification `last_id`:
    /// those kept from then on (and a little before, see
    /// [`REPLAY_SLACK_MS`]), and whether some may be gone.
    pub fn since(&self, user: &str, last_id: &str) -> CatchUp {
        let Some(last_ms) = last_id.split(':').next().and_then(|ms| ms.parse::<i64>().ok()) else {
            return CatchUp {
                missed: true,
                notifications: Vec::new(),
            };
        };
        let history = self.histories.get(user);
        let history = history
            .as_ref()
            .map(|h| h.lock().unwrap_or_else(|p| p.into_inner()));
        let forgotten = history.as_ref().map_or(0, |h| h.forgotten_until_ms);
        let notifications = history
            .iter()
            .flat_map(|h| h.kept.iter())
            .filter(|n| n.at_ms >= last_ms - REPLAY_SLACK_MS && n.id != last_id)
            .cloned()
            .collect();
        CatchUp {
            missed: last_ms < self.since_ms || last_ms < forgotten,
            notifications,
        }
    }

    /// `user`'s notifications from now on. Subscribe before appending, so
    /// no result can slip past.
    pub fn subscribe(&self, user: &str) -> Subscription {
        let receiver = lock(&self.channels)
            .entry(user.to_owned())
            .or_insert_with(|| broadcast::channel(PER_USER_BACKLOG).0)
            .subscribe();
        Subscription {
            user: user.to_owned(),
            receiver,
            channels: Arc::clone(&self.channels),
        }
    }
}

pub struct Subscription {
    user: String,
    receiver: broadcast::Receiver<Notification>,
    channels: Arc<Channels>,
}

/// What a listener gets next.
pub enum Next {
    Notification(Notification),
    /// The listener fell this many notifications behind; they are gone.
    Missed(u64),
    Closed,
}

impl Subscription {
    pub async fn next(&mut self) -> Next {
        match self.receiver.recv().await {
            Ok(notification) => Next::Notification(notification),
            Err(broadcast::error::RecvError::Lagged(n)) => Next::Missed(n),
            Err(broadcast::error::RecvError::Closed) => Next::Closed,
        }
    }

    /// The outcome of converting `post`: `Published` or `Failed`; `None` if
    /// the feed closed.
    pub async fn outcome_of(&mut self, post: Uuid) -> Option<Notice> {
        loop {
            match self.next().await {
                Next::Notification(n)
                    if n.post_id == post && !matches!(n.notice, Notice::CommentAdded { .. }) =>
                {
                    return Some(n.notice)
                }
                Next::Notification(_) | Next::Missed(_) => continue,
                Next::Closed => return None,
            }
        }
    }
}

impl Drop for Subscription {
    /// The last listener of a user removes the user's channel.
    fn drop(&mut self) {
        let mut channels = lock(&self.channels);
        if channels.get(&self.user).is_some_and(|s| s.receiver_count() <= 1) {
            channels.remove(&self.user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(since_ms: i64) -> Notifications {
        Notifications {
            channels: Arc::new(Mutex::new(HashMap::new())),
            owners: Cache::new(10),
            told: Cache::new(10),
            histories: moka::sync::Cache::new(10),
            since_ms,
        }
    }

    fn published(at_ms: i64, offset: u64) -> Notification {
        Notification {
            id: notification_id(at_ms, "imagegram.images", 0, offset),
            at_ms,
            consistency: String::new(),
            recipient: "ann".into(),
            post_id: Uuid::nil(),
            notice: Notice::Published,
        }
    }

    #[test]
    fn a_reconnecting_client_gets_what_came_after_its_last_id() {
        let now = now_ms();
        let hub = hub(now - 60_000);
        for (i, at) in [now - 30_000, now - 20_000, now - 10_000].into_iter().enumerate() {
            hub.deliver(published(at, i as u64));
        }
        let last = published(now - 20_000, 1).id;
        let caught = hub.since("ann", &last);
        assert!(!caught.missed);
        let ids: Vec<_> = caught.notifications.iter().map(|n| n.id.clone()).collect();
        assert_eq!(ids, [published(now - 10_000, 2).id]);
        assert!(hub.since("bob", &last).notifications.is_empty());
    }

    #[test]
    fn past_the_window_the_client_is_told_it_missed_some() {
        let now = now_ms();
        let hub = hub(now - 60_000);
        let before_start = published(now - 120_000, 0).id;
        assert!(
            hub.since("ann", &before_start).missed,
            "before this gateway followed the log"
        );
        assert!(hub.since("ann", "not-an-id").missed);
        for offset in 0..(REPLAY_COUNT as u64 + 10) {
            hub.deliver(published(now - 50_000 + offset as i64, offset));
        }
        let early = published(now - 50_000 + 3, 3).id;
        let caught = hub.since("ann", &early);
        assert!(caught.missed, "the user's oldest were dropped");
        assert_eq!(caught.notifications.len(), REPLAY_COUNT);
    }
}
