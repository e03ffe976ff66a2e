//! The one contract every read-store adapter must honour.

#![allow(dead_code)]

use imagegram_readstore::ReadModel;
use imagegram_schemas::*;
use uuid::Uuid;

mod bookkeeping;
mod projection;
mod uploads;
pub use bookkeeping::*;
pub use projection::*;
pub use uploads::*;

pub struct Events {
    clock: i64,
}

impl Events {
    pub fn new() -> Self {
        Events {
            clock: 1_764_000_000_000_000,
        }
    }

    fn meta(&mut self, actor: &str, post: Uuid) -> EventMeta {
        self.clock += 1_000;
        EventMeta {
            event_id: Uuid::new_v4(),
            idempotency_key: Uuid::new_v4().to_string(),
            actor: actor.into(),
            occurred_at: self.clock,
            post_id: post,
            request_id: None,
        }
    }

    pub fn upload(&mut self, actor: &str, post: Uuid, caption: &str) -> Event {
        Event::UploadRequested(UploadRequested {
            meta: self.meta(actor, post),
            caption: caption.into(),
            original_key: format!("originals/{post}"),
            format: ImageFormat::Png,
            byte_size: 100,
            original_filename: None,
        })
    }

    pub fn converted(&mut self, post: Uuid) -> Event {
        Event::ImageConverted(ImageConverted {
            meta: self.meta("image-converter", post),
            original_key: format!("originals/{post}"),
            image_key: format!("images/{post}.jpg"),
            width: 600,
            height: 600,
            byte_size: 5000,
        })
    }

    pub fn failed(&mut self, post: Uuid, reason: &str) -> Event {
        Event::ConversionFailed(ConversionFailed {
            meta: self.meta("image-converter", post),
            reason: reason.into(),
        })
    }

    pub fn comment(&mut self, actor: &str, post: Uuid, text: &str) -> (Uuid, Event) {
        let id = Uuid::new_v4();
        let event = Event::CommentAdded(CommentAdded {
            meta: self.meta(actor, post),
            comment_id: id,
            content: text.into(),
        });
        (id, event)
    }

    pub fn delete(&mut self, actor: &str, post: Uuid, comment: Uuid) -> Event {
        Event::CommentDeleted(CommentDeleted {
            meta: self.meta(actor, post),
            comment_id: comment,
        })
    }

    /// A published post.
    pub fn published(&mut self, actor: &str, caption: &str) -> (Uuid, Vec<Event>) {
        let post = Uuid::new_v4();
        (
            post,
            vec![self.upload(actor, post, caption), self.converted(post)],
        )
    }
}

async fn apply(store: &dyn ReadModel, events: &[Event]) {
    store.apply("contract", events, &[]).await.expect("apply");
}

#[macro_export]
macro_rules! read_contract_suite {
    ($store:expr) => {
        $crate::read_contract_suite!(@tests $store;
            uploads_publish_or_fail, results_that_arrive_before_the_upload_wait_for_it,
            feed_order_and_tie_breaks, last_two_comments_follow_adds_and_deletes,
            only_the_author_deletes_a_comment, duplicates_have_their_effect_once,
            positions_commit_with_the_batch, a_second_projector_backs_off_and_applies_nothing, idempotency_claims, a_decided_claim_holds_before_it_is_stored, concurrent_claims_have_one_winner, an_expired_claim_is_taken_over_once,
            processed_marks, uploads_advance_by_compare_and_set, an_upload_of_5000_parts_keeps_them_all, pruning_and_quotas,
            the_gateway_directory);
    };
    (@tests $store:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                match $store {
                    Some(store) => contract::$name(store).await,
                    // Its opener reported the missing service (a failure under
                    // ./x test and CI).
                    None => {}
                }
            }
        )*
    };
}
