//! What the processors count for `/metrics`: conversions by input format
//! and outcome (how long each took and how big its input was), and the
//! records each consumer gave up on.

use std::time::Duration;

use imagegram_schemas::dead_letter::DEAD_LETTERS_METRIC;
use imagegram_schemas::topics::Consumer;
use imagegram_schemas::{Event, ImageFormat, UploadRequested};

use crate::Failure;

pub const CONVERSION_DURATION: &str = "imagegram_conversion_duration_seconds";
pub const CONVERSION_INPUT: &str = "imagegram_conversion_input_bytes";

/// Gives each of this crate's metrics its help text.
pub fn describe() {
    metrics::describe_histogram!(
        CONVERSION_DURATION,
        metrics::Unit::Seconds,
        "Conversions from reading the original to storing the served JPEG, by input format and outcome \
         (published, failed, dead_lettered, crashed, retried)."
    );
    metrics::describe_histogram!(
        CONVERSION_INPUT,
        metrics::Unit::Bytes,
        "Sizes of the originals converted, by input format and outcome."
    );
    metrics::describe_counter!(DEAD_LETTERS_METRIC, "Records a consumer gave up on, by consumer.");
    // Every consumer's series exists from the start, so rates and alerts
    // see a 0 rather than nothing.
    for consumer in Consumer::ALL {
        metrics::counter!(DEAD_LETTERS_METRIC, "consumer" => consumer.group()).absolute(0);
    }
}

/// The outcome label of a conversion's result (pure).
pub fn outcome(result: &Result<Vec<Event>, Failure>) -> &'static str {
    match result {
        Ok(events) if events.iter().any(|e| matches!(e, Event::ImageConverted(_))) => "published",
        Ok(_) => "failed",
        Err(Failure::Poison(_)) => "dead_lettered",
        Err(Failure::Crashed(_)) => "crashed",
        Err(Failure::Transient(_)) => "retried",
    }
}

fn format_label(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "png",
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Bmp => "bmp",
    }
}

/// One conversion of `upload` ended with `result` after `took`.
pub fn conversion(upload: &UploadRequested, result: &Result<Vec<Event>, Failure>, took: Duration) {
    let labels = [
        ("format", format_label(upload.format)),
        ("outcome", outcome(result)),
    ];
    metrics::histogram!(CONVERSION_DURATION, &labels).record(took.as_secs_f64());
    metrics::histogram!(CONVERSION_INPUT, &labels).record(upload.byte_size.max(0) as f64);
}

/// `consumer` gave up on a record.
pub fn dead_lettered(consumer: Consumer) {
    metrics::counter!(DEAD_LETTERS_METRIC, "consumer" => consumer.group()).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_name_what_became_of_the_post() {
        assert_eq!(outcome(&Ok(vec![])), "failed");
        assert_eq!(outcome(&Err(Failure::Poison("x".into()))), "dead_lettered");
        assert_eq!(outcome(&Err(Failure::Crashed("x".into()))), "crashed");
        assert_eq!(outcome(&Err(Failure::Transient("x".into()))), "retried");
    }
}
