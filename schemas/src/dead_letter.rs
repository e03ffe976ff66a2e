//! Dead letters: what a consumer gave up on, with where it came from.

use uuid::Uuid;

use crate::topics::Consumer;
use crate::{ids, DeadLettered, Event, EventMeta};

/// The counter of records each consumer gave up on, in `/metrics`.
pub const DEAD_LETTERS_METRIC: &str = "imagegram_dead_letters_total";

/// Where a record was read from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub topic: &'a str,
    pub partition: u32,
    pub offset: u64,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// The dead letter for a record; its id is derived from the record's
/// position, so giving up twice on the same record makes one dead letter.
pub fn dead_letter(consumer: Consumer, origin: Origin<'_>, reason: &str, now_us: i64) -> Event {
    let position = format!("{}/{}/{}", origin.topic, origin.partition, origin.offset);
    let post_id = std::str::from_utf8(origin.key)
        .ok()
        .and_then(|k| Uuid::parse_str(k).ok())
        .unwrap_or_default();
    Event::DeadLettered(DeadLettered {
        meta: EventMeta {
            event_id: ids::derive("dead-letter", &[consumer.group(), &position]),
            idempotency_key: position,
            actor: consumer.group().to_owned(),
            occurred_at: now_us,
            post_id,
            request_id: None,
        },
        consumer: consumer.group().to_owned(),
        source_topic: origin.topic.to_owned(),
        source_partition: origin.partition as i32,
        source_offset: origin.offset as i64,
        source_key: origin.key.to_vec(),
        reason: reason.to_owned(),
        payload: origin.value.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_keeps_the_record_and_names_its_origin() {
        let origin = Origin {
            topic: "imagegram.uploads",
            partition: 3,
            offset: 42,
            key: b"not-a-uuid",
            value: &[1, 2, 3],
        };
        let Event::DeadLettered(d) = dead_letter(Consumer::ImageConverter, origin, "undecodable", 7) else {
            panic!("a dead letter");
        };
        assert_eq!(
            (d.source_topic.as_str(), d.source_partition, d.source_offset),
            ("imagegram.uploads", 3, 42)
        );
        assert_eq!((d.payload, d.source_key), (vec![1, 2, 3], b"not-a-uuid".to_vec()));
        assert_eq!(d.meta.post_id, Uuid::nil());
        let again = dead_letter(Consumer::ImageConverter, origin, "undecodable", 8);
        assert_eq!(
            again.meta().event_id,
            d.meta.event_id,
            "the same record gives the same dead letter"
        );
    }
}
