//! From a validated request to events in the log: posting (an image in
//! place, `UploadRequested`), commenting (`CommentAdded`), appending, and
//! awaiting a post's outcome. Each returns what happened, never an HTTP
//! answer: the handlers (`posts.rs`, `comments.rs`, `tus/`) translate.

mod comment;
mod post;

use imagegram_eventlog::{Position, Record};
use imagegram_schemas::{encode, topics, Event};

pub use comment::publish_comment;
pub use post::{await_outcome, check_caption, publish_post, Outcome, Posting, MAX_CAPTION_CHARS};

use crate::state::AppState;
use crate::{IngestError, Problem};

/// Appends one event; where the log put it.
pub async fn append(state: &AppState, event: &Event) -> Result<Position, Problem> {
    let bytes = encode(event)?;
    let topic = topics::topic_for(event.kind()).name;
    let appended = state
        .log
        .append(topic, vec![Record::new(event.key(), bytes)])
        .await?;
    let at = appended
        .first()
        .ok_or(IngestError::Broken("the log acknowledged no record"))?;
    Ok(Position::new(topic, at.partition, at.offset))
}
