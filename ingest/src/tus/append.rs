//! Appending a request's bytes to an upload: offset and length checks,
//! the bytes stored as a new part (detached from the request, so a dropped
//! connection still keeps what arrived), the offset moved by
//! compare-and-set, and the post made once the last byte is in.

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use imagegram_readstore::Upload;
use uuid::Uuid;

use super::{chunks, expiry, posting, protocol, Turn, POST_HEADER};
use crate::state::AppState;
use crate::upload_stream::MAX_IMAGE_BYTES;
use crate::Problem;

/// Appends a request's bytes to `upload`, read while holding `turn`;
/// finishes it if they were the last.
pub(super) async fn append(
    state: &AppState,
    user: &str,
    (mut upload, turn): (Upload, Turn),
    headers: &HeaderMap,
    body: Body,
) -> Result<(StatusCode, Vec<(&'static str, String)>), Problem> {
    let offset = if headers.contains_key("upload-offset") {
        protocol::patch_offset(headers)?
    } else {
        0
    };
    let conflict = |detail: String| Problem::client(StatusCode::CONFLICT, "offset-mismatch", detail);
    if offset != upload.offset {
        return Err(conflict(format!(
            "the upload is at offset {}, not {offset}",
            upload.offset
        )));
    }
    if let Some(length) = protocol::late_length(headers)? {
        match upload.length {
            None if length >= upload.offset => upload.length = Some(length),
            Some(known) if known == length => {}
            _ => {
                return Err(Problem::client(
                    StatusCode::BAD_REQUEST,
                    "bad-header",
                    "Upload-Length cannot change",
                ))
            }
        }
    }
    let complete = upload.length == Some(upload.offset) && upload.offset > 0;
    if upload.post_id.is_some() || complete && !headers.contains_key(header::CONTENT_LENGTH) {
        return Err(conflict("the upload is complete".into()));
    }
    let room = upload.length.unwrap_or(MAX_IMAGE_BYTES) - upload.offset;
    let checksum = protocol::parse_checksum(headers)?;
    // Detached: if the client's connection drops, the server stops running
    // this handler, but the bytes that arrived are still stored and counted,
    // and a finished upload still becomes its post.
    let task = tokio::spawn({
        let (state, user) = (state.clone(), user.to_owned());
        async move {
            let _turn = turn;
            let upload = if complete {
                upload
            } else {
                store_part(&state, upload, body, room, checksum).await?
            };
            let post = finish_if_complete(&state, &user, &upload).await?;
            Ok::<_, Problem>((upload, post))
        }
    });
    let (upload, post) = task.await??;
    let mut pairs = vec![
        ("upload-offset", upload.offset.to_string()),
        ("upload-expires", protocol::http_date(upload.expires_at)),
    ];
    if let Some(post) = post {
        pairs.push((POST_HEADER, format!("/v1/posts/{post}")));
    }
    Ok((StatusCode::NO_CONTENT, pairs))
}

/// Makes the post once the last byte is in, if the metadata has a caption.
async fn finish_if_complete(state: &AppState, user: &str, upload: &Upload) -> Result<Option<Uuid>, Problem> {
    if upload.length != Some(upload.offset) {
        return Ok(None);
    }
    let metadata = protocol::parse_metadata(&upload.metadata)?;
    match protocol::text_value(&metadata, "caption")? {
        Some(caption) => Ok(Some(posting::make_post(state, user, upload, caption).await?)),
        None => Ok(None),
    }
}

/// Stores the request's bytes (in place, or as a new part) and moves the
/// offset past them.
async fn store_part(
    state: &AppState,
    mut upload: Upload,
    body: Body,
    room: u64,
    checksum: Option<(protocol::Algorithm, Vec<u8>)>,
) -> Result<Upload, Problem> {
    let from = upload.offset;
    // In place from its first byte; an upload begun in parts (before the
    // store wrote in place) goes on in parts. Its first part, read with
    // its row, says which (the write in place refuses an object shorter
    // than `from` as it opens it). The caller's turn keeps `from` as read
    // until this request is done.
    let in_place =
        state.blobs.writes_in_place() && (from == 0 || upload.first_part.as_deref() == Some(chunks::WHOLE));
    // A new part of its own, unless written in place.
    let part = (!in_place).then(|| chunks::new_part(from));
    let target = part
        .as_deref()
        .map_or(chunks::Target::InPlace { offset: from }, chunks::Target::Part);
    let kept = chunks::store_chunk(&state.blobs, upload.id, target, body, room, checksum).await?;
    upload.offset += kept;
    upload.expires_at = expiry();
    // In place, the upload has one part, named when its first bytes are kept.
    let added = match &part {
        Some(part) => (kept > 0).then_some(part.as_str()),
        None => (kept > 0 && from == 0).then_some(chunks::WHOLE),
    };
    if !state.uploads.advance_upload(&upload, from, added).await? {
        if let Some(part) = part.as_deref().filter(|_| kept > 0) {
            let _ = state.blobs.delete(&chunks::chunk_key(upload.id, part)).await;
        }
        return Err(moved_first());
    }
    Ok(upload)
}

fn moved_first() -> Problem {
    Problem::client(
        StatusCode::CONFLICT,
        "offset-mismatch",
        "another request moved the upload first",
    )
}
