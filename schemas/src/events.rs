use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Fields every event carries (the `EventMeta` record in every schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMeta {
    /// Unique id of this event; consumers deduplicate by it.
    pub event_id: Uuid,
    /// The idempotency key of the request that caused it.
    pub idempotency_key: String,
    /// User id of whoever caused it.
    pub actor: String,
    /// Microseconds since the Unix epoch, UTC.
    pub occurred_at: i64,
    /// The aggregate key: the post this event belongs to, also the record key.
    pub post_id: Uuid,
    /// The `x-request-id` of the HTTP request that caused it, carried on to
    /// the events that follow from it (a conversion's outcome), so every
    /// role's log lines about it name the request. `None` before schema
    /// version 2 of the meta, and for events no request caused.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Image container formats we accept, decided from magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ImageFormat {
    Png,
    Jpeg,
    Bmp,
}

/// A client uploaded an original and asked for a post to be made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRequested {
    pub meta: EventMeta,
    pub caption: String,
    pub original_key: String,
    pub format: ImageFormat,
    pub byte_size: i64,
    /// Added in v2; `None` for events written by v1.
    #[serde(default)]
    pub original_filename: Option<String>,
}

/// The served JPEG of a post was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConverted {
    pub meta: EventMeta,
    pub original_key: String,
    pub image_key: String,
    pub width: i32,
    pub height: i32,
    pub byte_size: i64,
}

/// The original could not be converted; the post will not be published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversionFailed {
    pub meta: EventMeta,
    pub reason: String,
}

/// A user commented on a post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentAdded {
    pub meta: EventMeta,
    pub comment_id: Uuid,
    pub content: String,
}

/// A user deleted a comment (only its author may; the read side checks again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentDeleted {
    pub meta: EventMeta,
    pub comment_id: Uuid,
}

/// A consumer gave up on a record; the bytes are kept for replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLettered {
    pub meta: EventMeta,
    pub consumer: String,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    #[serde(with = "serde_bytes")]
    pub source_key: Vec<u8>,
    pub reason: String,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

/// What kind of event a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    UploadRequested,
    ImageConverted,
    ConversionFailed,
    CommentAdded,
    CommentDeleted,
    DeadLettered,
}

impl EventKind {
    /// The Avro record name (without namespace).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::UploadRequested => "UploadRequested",
            EventKind::ImageConverted => "ImageConverted",
            EventKind::ConversionFailed => "ConversionFailed",
            EventKind::CommentAdded => "CommentAdded",
            EventKind::CommentDeleted => "CommentDeleted",
            EventKind::DeadLettered => "DeadLettered",
        }
    }
}

/// Any event that travels on the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    UploadRequested(UploadRequested),
    ImageConverted(ImageConverted),
    ConversionFailed(ConversionFailed),
    CommentAdded(CommentAdded),
    CommentDeleted(CommentDeleted),
    DeadLettered(DeadLettered),
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::UploadRequested(_) => EventKind::UploadRequested,
            Event::ImageConverted(_) => EventKind::ImageConverted,
            Event::ConversionFailed(_) => EventKind::ConversionFailed,
            Event::CommentAdded(_) => EventKind::CommentAdded,
            Event::CommentDeleted(_) => EventKind::CommentDeleted,
            Event::DeadLettered(_) => EventKind::DeadLettered,
        }
    }

    pub fn meta(&self) -> &EventMeta {
        match self {
            Event::UploadRequested(e) => &e.meta,
            Event::ImageConverted(e) => &e.meta,
            Event::ConversionFailed(e) => &e.meta,
            Event::CommentAdded(e) => &e.meta,
            Event::CommentDeleted(e) => &e.meta,
            Event::DeadLettered(e) => &e.meta,
        }
    }

    /// The log record key: the post id (hyphenated text, readable in any
    /// Kafka tool), so one post's events stay in order in one partition.
    pub fn key(&self) -> String {
        self.meta().post_id.hyphenated().to_string()
    }
}

impl ImageFormat {
    /// The format named by a file's first bytes, whatever its name or
    /// declared type says; `None` for anything but png, jpeg and bmp.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if head.len() >= 14 && head.starts_with(b"BM") {
            Some(ImageFormat::Bmp)
        } else {
            None
        }
    }

    /// How many leading bytes [`ImageFormat::sniff`] needs to decide.
    pub const SNIFF_LEN: usize = 14;

    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Bmp => "image/bmp",
        }
    }
}

/// Now, as events stamp `occurred_at`: microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod sniff_tests {
    use super::ImageFormat;

    #[test]
    fn magic_bytes_decide() {
        assert_eq!(
            ImageFormat::sniff(b"\x89PNG\r\n\x1a\n rest"),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::sniff(b"BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00\x00\x00"),
            Some(ImageFormat::Bmp)
        );
        assert_eq!(
            ImageFormat::sniff(b"hello, I am a text file named photo.png"),
            None
        );
        assert_eq!(ImageFormat::sniff(b"BM"), None, "too short to be a bmp");
        assert_eq!(ImageFormat::sniff(b""), None);
    }
}
