//! How the embedded log lies in its redb file: the tables, the name of
//! each partition's table, and the bytes of a stored record. The bottom of
//! the embedded log: the store, its writer and the readers all build on it.

use redb::TableDefinition;

use crate::Record;

pub(crate) const TOPICS: TableDefinition<&str, u32> = TableDefinition::new("topics");
pub(crate) const GROUP_OFFSETS: TableDefinition<(&str, &str, u32), u64> =
    TableDefinition::new("group_offsets");

/// Whether a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync before an append returns: survives power loss (the default).
    Fsync,
    /// Not synced before an append returns (redb's `Durability::None`):
    /// redb keeps such commits in its own memory until a synced one, so a
    /// killed process loses them. For tests and throw-away data only.
    Process,
}

pub(crate) fn partition_table(topic: &str, partition: u32) -> String {
    format!("log/{topic}/{partition}")
}

/// A stored record: timestamp, key length, key, value.
pub(crate) fn encode_record(timestamp_ms: i64, record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + record.key.len() + record.value.len());
    out.extend_from_slice(&timestamp_ms.to_le_bytes());
    out.extend_from_slice(&(record.key.len() as u32).to_le_bytes());
    out.extend_from_slice(&record.key);
    out.extend_from_slice(&record.value);
    out
}

/// The inverse of [`encode_record`]; `None` for bytes it did not write.
pub(crate) fn decode_record(bytes: &[u8]) -> Option<(i64, Vec<u8>, Vec<u8>)> {
    let timestamp = i64::from_le_bytes(bytes.get(0..8)?.try_into().ok()?);
    let key_len = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?) as usize;
    let key = bytes.get(12..12usize.checked_add(key_len)?)?.to_vec();
    let value = bytes.get(12 + key_len..)?.to_vec();
    Some((timestamp, key, value))
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
