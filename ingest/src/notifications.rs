//! What users are told, followed from the log: any gateway instance learns
//! that a post was published or failed, or that someone commented on a
//! post, whichever processor or gateway did the work. Each notification has
//! one recipient (the post's creator) and reaches only that user's
//! subscriptions: `GET /v1/events` and `POST /v1/posts?wait=`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imagegram_eventlog::{lag, EventLog, LogReader};
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
    pub recipient: String,
    pub post_id: Uuid,
    pub notice: Notice,
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
                    if let Some(notification) = self.notification_for(event, &*store).await {
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
            recipient,
            post_id,
            notice,
        })
    }

    async fn owner_of(&self, post: Uuid, store: &dyn ReadModel) -> Option<String> {
        if lock(&self.channels).is_empty() {
            return None;
        }
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
        let mut channels = lock(&self.channels);
        if let Some(sender) = channels.get(&notification.recipient) {
            if sender.send(notification.clone()).is_err() {
                channels.remove(&notification.recipient);
            }
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
