//! Read your own writes. The read model follows the log a few milliseconds
//! behind, so a client that just wrote could read before its write shows.
//!
//! Every write's answer carries `Imagegram-Consistency`: where its event
//! sits in the log. A read that sends the token back waits, briefly and
//! bounded, until the read model has applied that far. A delete of a
//! comment the read model does not know yet waits for the read model to
//! catch up with the log as it stood when the delete arrived, so a comment
//! the log already holds is never answered 404 for being early.

use std::time::Duration;

use axum::http::HeaderMap;
use imagegram_eventlog::Position;
use imagegram_projections::READ_MODEL;
use imagegram_readstore::ReadModel;

use crate::state::AppState;

/// The answer header of writes, and the request header of reads.
pub const HEADER: &str = "imagegram-consistency";

/// How long a read waits for the read model before answering as it stands.
pub const PATIENCE: Duration = Duration::from_secs(3);

/// The token for an event written at `position` (the offset it got).
pub fn token(position: &Position) -> String {
    format!("{}.{}.{}", position.partition, position.offset, position.topic)
}

/// The position a token names, if it is one.
pub fn parse(text: &str) -> Option<Position> {
    let mut fields = text.splitn(3, '.');
    let partition = fields.next()?.parse().ok()?;
    let offset = fields.next()?.parse().ok()?;
    let topic = fields.next().filter(|t| !t.is_empty() && t.len() <= 255)?;
    Some(Position::new(topic, partition, offset))
}

/// The position a request's token names, if it sent a readable one.
pub fn requested(headers: &HeaderMap) -> Option<Position> {
    headers.get(HEADER)?.to_str().ok().and_then(parse)
}

/// Waits until the read model has applied every record before each of
/// `ends` (exclusive), or `PATIENCE` has passed; whether it got there.
pub async fn until_applied(store: &dyn ReadModel, ends: &[Position]) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut applied = AppliedSignal::of(store);
    loop {
        if let Ok(done) = store.positions(READ_MODEL).await {
            let reached = |end: &Position| {
                end.offset == 0
                    || done.iter().any(|p| {
                        p.topic == end.topic && p.partition == end.partition && p.offset >= end.offset
                    })
            };
            if ends.iter().all(reached) {
                return true;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        applied.next(deadline).await;
    }
}

/// How often a waiter looks at the read model again when nothing told it
/// of a change: a projector in another process tells nothing.
const LOOK_AGAIN: Duration = Duration::from_millis(5);

/// The read model's word that this process applied more events: a waiter
/// for a write to show wakes as soon as it is applied, and looks again
/// every [`LOOK_AGAIN`] besides. Polling alone every 10 ms added 5 ms on
/// average to every `?wait=` upload.
pub struct AppliedSignal(Option<tokio::sync::watch::Receiver<u64>>);

impl AppliedSignal {
    /// Taken before the first look, so no apply after it goes unheard.
    pub fn of(store: &dyn ReadModel) -> Self {
        AppliedSignal(store.applied())
    }

    /// Until the next apply, [`LOOK_AGAIN`] or `deadline`, whichever is first.
    pub async fn next(&mut self, deadline: tokio::time::Instant) {
        let until = deadline.min(tokio::time::Instant::now() + LOOK_AGAIN);
        match self.0.as_mut() {
            Some(applied) => {
                if let Ok(Err(_closed)) = tokio::time::timeout_at(until, applied.changed()).await {
                    // The store is gone: nothing more will tell.
                    self.0 = None;
                }
            }
            None => tokio::time::sleep_until(until).await,
        }
    }
}

/// Waits for the write a request's token names to be applied, if it sent one.
pub async fn after_requested(state: &AppState, headers: &HeaderMap) {
    if let Some(written) = requested(headers) {
        let end = Position::new(written.topic, written.partition, written.offset + 1);
        until_applied(&*state.read_model, &[end]).await;
    }
}

/// Waits until the read model has applied `topic` as far as the log held
/// it just now; whether it got there.
pub async fn catch_up_with(state: &AppState, topic: &str) -> bool {
    let Ok(ends) = state.log.end_offsets(topic).await else {
        return false;
    };
    let ends: Vec<Position> = ends
        .into_iter()
        .enumerate()
        .map(|(partition, end)| Position::new(topic, partition as u32, end))
        .collect();
    until_applied(&*state.read_model, &ends).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_round_trip_and_topics_keep_their_dots() {
        let position = Position::new("staging.imagegram.comments", 7, 12_345);
        assert_eq!(token(&position), "7.12345.staging.imagegram.comments");
        assert_eq!(parse(&token(&position)), Some(position));
        for bad in ["", "1", "1.2", "1.2.", "x.2.t", "1.-2.t"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_tokens_never_panic(text in ".{0,300}") {
            let _ = parse(&text);
        }
    }
}
