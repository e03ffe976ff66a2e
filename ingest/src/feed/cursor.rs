//! Feed cursors: which snapshot, on which gateway instance, and the last
//! place served — signed with HMAC-SHA256 so a cursor that was changed or
//! made up is refused (400) instead of being trusted.
//!
//! Layout (before base64url): version 1 (1 byte), instance (8), snapshot
//! (8), comment count (8), created at (8), post id (16), then the first 16
//! bytes of the MAC over all of that.

use base64::Engine;
use hmac::{Hmac, Mac};
use imagegram_readstore::FeedKey;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const VERSION: u8 = 1;
const BODY: usize = 1 + 8 + 8 + 8 + 8 + 16;
const TAG: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedCursor {
    pub instance: u64,
    pub snapshot: u64,
    pub after: FeedKey,
}

/// Signs and checks cursors; the key is derived from the gateway's secret.
#[derive(Clone)]
pub struct CursorSigner {
    key: [u8; 32],
}

impl CursorSigner {
    pub fn new(secret: &[u8]) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"imagegram feed cursor v1\0");
        hash.update(secret);
        CursorSigner {
            key: hash.finalize().into(),
        }
    }

    fn mac(&self, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length; 32 bytes cannot be refused.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(body);
        mac
    }

    pub fn encode(&self, cursor: &FeedCursor) -> String {
        let mut bytes = Vec::with_capacity(BODY + TAG);
        bytes.push(VERSION);
        bytes.extend_from_slice(&cursor.instance.to_be_bytes());
        bytes.extend_from_slice(&cursor.snapshot.to_be_bytes());
        bytes.extend_from_slice(&cursor.after.comment_count.to_be_bytes());
        bytes.extend_from_slice(&cursor.after.created_at.to_be_bytes());
        bytes.extend_from_slice(cursor.after.id.as_bytes());
        let tag = self.mac(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The cursor, if it is well-formed and was signed with this key.
    pub fn decode(&self, text: &str) -> Option<FeedCursor> {
        if text.len() > 2 * (BODY + TAG) {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        if bytes.len() != BODY + TAG || bytes[0] != VERSION {
            return None;
        }
        let (body, tag) = bytes.split_at(BODY);
        self.mac(body).verify_truncated_left(tag).ok()?;
        let word = |at: usize| {
            body.get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
        };
        let id = Uuid::from_slice(body.get(33..49)?).ok()?;
        Some(FeedCursor {
            instance: word(1)?,
            snapshot: word(9)?,
            after: FeedKey {
                comment_count: word(17)? as i64,
                created_at: word(25)? as i64,
                id,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn signer() -> CursorSigner {
        CursorSigner::new(b"secret")
    }

    proptest! {
        #[test]
        fn cursors_round_trip(instance: u64, snapshot: u64, c: i64, t: i64, id: u128) {
            let cursor = FeedCursor { instance, snapshot, after: FeedKey { comment_count: c, created_at: t, id: Uuid::from_u128(id) } };
            prop_assert_eq!(signer().decode(&signer().encode(&cursor)), Some(cursor));
        }

        #[test]
        fn any_changed_byte_is_refused(flip in 0usize..65, bit in 0u8..8) {
            let cursor = FeedCursor { instance: 1, snapshot: 2, after: FeedKey { comment_count: 3, created_at: 4, id: Uuid::from_u128(5) } };
            let text = signer().encode(&cursor);
            let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&text).unwrap_or_default();
            bytes[flip] ^= 1 << bit;
            let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            prop_assert_eq!(signer().decode(&forged), None);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = signer().decode(&text);
        }
    }

    #[test]
    fn another_key_refuses_it() {
        let cursor = FeedCursor {
            instance: 1,
            snapshot: 2,
            after: FeedKey {
                comment_count: 3,
                created_at: 4,
                id: Uuid::nil(),
            },
        };
        assert_eq!(
            CursorSigner::new(b"other").decode(&signer().encode(&cursor)),
            None
        );
    }
}
