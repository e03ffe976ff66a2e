//! The image-conversion processor: `UploadRequested` in, the served JPEG
//! stored, `ImageConverted` or `ConversionFailed` out.

use std::sync::Arc;

use async_trait::async_trait;
use imagegram_blobstore::{keys, BlobError, BlobStore};
use imagegram_schemas::topics::Consumer;
use imagegram_schemas::{ids, ConversionFailed, Event, EventMeta, ImageConverted, UploadRequested};
use tokio::sync::Semaphore;

use crate::convert::colour::ColourNote;
use crate::convert::{convert, convert_file, ConvertOptions};
use crate::lanes::Lane;
use crate::{Failure, Processor};
use imagegram_schemas::now_us;

/// The longest one conversion may take (a 100 MB PNG takes about 0.2 s).
const CONVERSION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub struct ImageConverter {
    blobs: Arc<dyn BlobStore>,
    options: ConvertOptions,
    /// Conversions at once: they are CPU-bound and run on blocking threads.
    slots: Arc<Semaphore>,
    /// The originals this converter takes; it skips the others.
    lane: Lane,
}

impl ImageConverter {
    /// A converter of `lane`'s originals, `parallel` at once.
    pub fn new(blobs: Arc<dyn BlobStore>, options: ConvertOptions, parallel: usize, lane: Lane) -> Self {
        ImageConverter {
            blobs,
            options,
            slots: Arc::new(Semaphore::new(parallel.max(1))),
            lane,
        }
    }

    /// The meta of what we append about `upload`: on behalf of its uploader,
    /// with an id derived from the upload's, so a repeat is recognised.
    fn meta(upload: &UploadRequested, what: &str) -> EventMeta {
        EventMeta {
            event_id: ids::derive(what, &[&upload.meta.event_id.to_string()]),
            idempotency_key: upload.meta.idempotency_key.clone(),
            actor: upload.meta.actor.clone(),
            occurred_at: now_us(),
            post_id: upload.meta.post_id,
            request_id: upload.meta.request_id.clone(),
        }
    }

    fn failed(upload: &UploadRequested, reason: String) -> Event {
        Event::ConversionFailed(ConversionFailed {
            meta: Self::meta(upload, "conversion-failed"),
            reason,
        })
    }
}

#[async_trait]
impl Processor for ImageConverter {
    fn consumer(&self) -> Consumer {
        self.lane.consumer()
    }

    async fn handle(&self, event: &Event) -> Result<Vec<Event>, Failure> {
        let Event::UploadRequested(upload) = event else {
            return Ok(Vec::new());
        };
        if Lane::of(u64::try_from(upload.byte_size).unwrap_or(u64::MAX)) != self.lane {
            return Ok(Vec::new()); // the other lane's
        }
        let started = std::time::Instant::now();
        let result = self.convert_upload(upload).await;
        crate::metrics::conversion(upload, &result, started.elapsed());
        result
    }
}

/// An original to convert: read where it lies when the blob store keeps
/// files on this machine (a PNG is then decoded as it is read, and never
/// held whole), else fetched whole.
enum Original {
    File(std::fs::File),
    Bytes(bytes::Bytes),
}

impl ImageConverter {
    async fn original(&self, key: &str) -> Result<Original, BlobError> {
        match self.blobs.open_local(key).await? {
            Some(file) => Ok(Original::File(file)),
            None => Ok(Original::Bytes(self.blobs.get(key).await?)),
        }
    }

    /// The served JPEG of `upload` stored, and the event that says so.
    async fn convert_upload(&self, upload: &UploadRequested) -> Result<Vec<Event>, Failure> {
        let original = match self.original(&upload.original_key).await {
            Ok(original) => original,
            Err(BlobError::NotFound(_)) => {
                return Ok(vec![Self::failed(
                    upload,
                    "The uploaded file is missing, so it could not be converted.".into(),
                )])
            }
            Err(e) => return Err(Failure::of_blob(e)),
        };
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?;
        let options = self.options.clone();
        let conversion = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            match original {
                Original::File(file) => convert_file(file, &options),
                Original::Bytes(bytes) => convert(&bytes, &options),
            }
        });
        // A conversion that hangs counts as a crash; its thread cannot be
        // stopped, but it keeps its slot, so hung ones cannot pile up.
        let outcome = match tokio::time::timeout(CONVERSION_TIMEOUT, conversion).await {
            Ok(outcome) => outcome,
            Err(_) => {
                return Err(Failure::Crashed(format!(
                    "the conversion took longer than {} s",
                    CONVERSION_TIMEOUT.as_secs()
                )))
            }
        };
        let converted = match outcome {
            Err(join) if join.is_panic() => return Err(Failure::Crashed("the conversion panicked".into())),
            Err(join) => return Err(Failure::Transient(join.to_string())),
            Ok(Err(error)) => {
                tracing::info!(post_id = %upload.meta.post_id, %error, "conversion refused the image");
                return Ok(vec![Self::failed(upload, error.for_people())]);
            }
            Ok(Ok(converted)) => converted,
        };
        if let ColourNote::Ignored(why) = &converted.colour {
            tracing::warn!(post_id = %upload.meta.post_id, reason = %why,
                "the original's colour information was not usable, so its pixels were read as sRGB");
        }
        let image_key = keys::image(upload.meta.post_id);
        let byte_size = converted.jpeg.len() as i64;
        self.blobs
            .put(&image_key, converted.jpeg.into())
            .await
            .map_err(Failure::of_blob)?;
        tracing::info!(post_id = %upload.meta.post_id, width = converted.width, height = converted.height,
            bytes = byte_size, colour = ?converted.colour, "converted");
        Ok(vec![Event::ImageConverted(ImageConverted {
            meta: Self::meta(upload, "image-converted"),
            original_key: upload.original_key.clone(),
            image_key,
            width: converted.width as i32,
            height: converted.height as i32,
            byte_size,
        })])
    }
}
