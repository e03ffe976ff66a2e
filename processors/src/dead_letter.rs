//! Dead letters: what a consumer gave up on, with where it came from.

use imagegram_eventlog::Delivered;
use imagegram_schemas::topics::Consumer;
use imagegram_schemas::{ids, DeadLettered, Event, EventMeta};
use uuid::Uuid;

/// The dead letter for `record`; its id is derived from the record's
/// position, so giving up twice on the same record makes one dead letter.
pub fn dead_letter(consumer: Consumer, record: &Delivered, reason: &str, now_us: i64) -> Event {
    let position = format!("{}/{}/{}", record.topic, record.partition, record.offset);
    let post_id = std::str::from_utf8(&record.key)
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
        },
        consumer: consumer.group().to_owned(),
        source_topic: record.topic.to_string(),
        source_partition: record.partition as i32,
        source_offset: record.offset as i64,
        source_key: record.key.clone(),
        reason: reason.to_owned(),
        payload: record.value.clone(),
    })
}

pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_dead_letter_keeps_the_record_and_names_its_origin() {
        let record = Delivered {
            topic: Arc::from("imagegram.uploads"),
            partition: 3,
            offset: 42,
            timestamp_ms: 0,
            key: b"not-a-uuid".to_vec(),
            value: vec![1, 2, 3],
        };
        let Event::DeadLettered(d) = dead_letter(Consumer::ImageConverter, &record, "undecodable", 7) else {
            panic!("a dead letter");
        };
        assert_eq!(
            (d.source_topic.as_str(), d.source_partition, d.source_offset),
            ("imagegram.uploads", 3, 42)
        );
        assert_eq!((d.payload, d.source_key), (vec![1, 2, 3], b"not-a-uuid".to_vec()));
        assert_eq!(d.meta.post_id, Uuid::nil());
        let again = dead_letter(Consumer::ImageConverter, &record, "undecodable", 8);
        assert_eq!(
            again.meta().event_id,
            d.meta.event_id,
            "the same record gives the same dead letter"
        );
    }
}
