//! What became of uploads, followed from the log: any gateway instance
//! learns that a post was converted or failed, whichever processor did it.

use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::{EventLog, Position};
use imagegram_schemas::{decode, topics, Event};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::IngestError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Published,
    Failed(String),
}

/// Fans conversion results out to whoever waits for them.
pub struct Outcomes {
    sender: broadcast::Sender<(Uuid, Outcome)>,
}

impl Outcomes {
    /// Starts following the images topic from its current end.
    pub async fn follow(log: Arc<dyn EventLog>, stop: CancellationToken) -> Result<Arc<Self>, IngestError> {
        let topic = topics::IMAGES.name;
        let ends = log.end_offsets(topic).await?;
        let positions = ends
            .iter()
            .enumerate()
            .map(|(p, &end)| Position::new(topic, p as u32, end))
            .collect::<Vec<_>>();
        let mut reader = log.read_from(positions).await?;
        let (sender, _) = broadcast::channel(4096);
        let outcomes = Arc::new(Outcomes {
            sender: sender.clone(),
        });
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                let batch = tokio::select! {
                    _ = stop.cancelled() => break,
                    batch = reader.poll(1000, Duration::from_millis(500)) => batch,
                };
                let batch = match batch {
                    Ok(batch) => batch,
                    Err(e) => {
                        tracing::warn!(error = %e, "following conversion results failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                for record in batch {
                    let outcome = match decode(&record.value) {
                        Ok(Event::ImageConverted(e)) => (e.meta.post_id, Outcome::Published),
                        Ok(Event::ConversionFailed(e)) => (e.meta.post_id, Outcome::Failed(e.reason)),
                        _ => continue,
                    };
                    let _ = sender.send(outcome);
                }
            }
        });
        Ok(outcomes)
    }

    /// Subscribe before appending, so no result can slip past.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.sender.subscribe(),
        }
    }
}

pub struct Subscription {
    receiver: broadcast::Receiver<(Uuid, Outcome)>,
}

impl Subscription {
    /// The outcome for `post`, or `None` if the feed closed.
    pub async fn outcome_of(&mut self, post: Uuid) -> Option<Outcome> {
        loop {
            match self.receiver.recv().await {
                Ok((id, outcome)) if id == post => return Some(outcome),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
