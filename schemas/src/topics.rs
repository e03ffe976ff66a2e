//! Every topic Imagegram uses, with its partition count: the one place they are named.
//!
//! Each event stream has its own topic; every record's key is the post id, so
//! one post's events stay in order within a topic. Each consumer has its own
//! dead-letter topic for records it gave up on.

use crate::EventKind;

/// A topic and how many partitions it is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    pub name: &'static str,
    pub partitions: u32,
}

/// `UploadRequested`: originals waiting to be converted.
pub const UPLOADS: Topic = Topic {
    name: "imagegram.uploads",
    partitions: 8,
};
/// `ImageConverted` and `ConversionFailed`: what the converter decided.
pub const IMAGES: Topic = Topic {
    name: "imagegram.images",
    partitions: 8,
};
/// `CommentAdded` and `CommentDeleted`: the busiest stream.
pub const COMMENTS: Topic = Topic {
    name: "imagegram.comments",
    partitions: 16,
};

/// The consumers that read the log, each with a group name and a dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    /// Turns originals into the served JPEG: the lane of the large ones.
    ImageConverter,
    /// The same for small originals, in a lane of their own, so that they
    /// are not stuck behind large ones.
    SmallImageConverter,
    /// Builds the read tables.
    Projector,
    /// Tells users what happened to their posts.
    Notifier,
}

impl Consumer {
    pub const ALL: [Consumer; 4] = [
        Consumer::ImageConverter,
        Consumer::SmallImageConverter,
        Consumer::Projector,
        Consumer::Notifier,
    ];

    /// The consumer-group id, also the name used in dead letters.
    pub fn group(self) -> &'static str {
        match self {
            Consumer::ImageConverter => "imagegram.image-converter",
            Consumer::SmallImageConverter => "imagegram.image-converter-small",
            Consumer::Projector => "imagegram.projector",
            Consumer::Notifier => "imagegram.notifier",
        }
    }

    /// Where this consumer puts the records it gives up on.
    pub fn dead_letter_topic(self) -> Topic {
        let name = match self {
            Consumer::ImageConverter => "imagegram.dlq.image-converter",
            Consumer::SmallImageConverter => "imagegram.dlq.image-converter-small",
            Consumer::Projector => "imagegram.dlq.projector",
            Consumer::Notifier => "imagegram.dlq.notifier",
        };
        Topic { name, partitions: 1 }
    }

    /// The topics this consumer reads.
    pub fn inputs(self) -> &'static [Topic] {
        match self {
            Consumer::ImageConverter | Consumer::SmallImageConverter => &[UPLOADS],
            Consumer::Projector => &[UPLOADS, IMAGES, COMMENTS],
            Consumer::Notifier => &[IMAGES, COMMENTS],
        }
    }
}

/// The topic an event of this kind is appended to.
pub fn topic_for(kind: EventKind) -> Topic {
    match kind {
        EventKind::UploadRequested => UPLOADS,
        EventKind::ImageConverted | EventKind::ConversionFailed => IMAGES,
        EventKind::CommentAdded | EventKind::CommentDeleted => COMMENTS,
        // A dead letter on its own carries no consumer; writers pick the
        // consumer's topic with `Consumer::dead_letter_topic`.
        EventKind::DeadLettered => Consumer::Projector.dead_letter_topic(),
    }
}

/// Every topic, to create at start.
pub fn all() -> Vec<Topic> {
    let mut topics = vec![UPLOADS, IMAGES, COMMENTS];
    topics.extend(Consumer::ALL.iter().map(|c| c.dead_letter_topic()));
    topics
}
