//! Consumer groups of the embedded log: members in this process share the
//! partitions of their topics, and start where the group last committed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::reader::EmbeddedReader;
use super::store::Store;
use crate::{Delivered, GroupReader, LogError, LogReader, Position};

#[derive(Default)]
struct GroupState {
    generation: u64,
    /// member id → topics it reads
    members: BTreeMap<u64, Vec<String>>,
}

/// Membership of every group in this process.
#[derive(Default)]
pub(crate) struct Coordinator {
    groups: Mutex<HashMap<String, GroupState>>,
    next_member: std::sync::atomic::AtomicU64,
}

impl Coordinator {
    fn with_group<T>(&self, group: &str, f: impl FnOnce(&mut GroupState) -> T) -> T {
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(groups.entry(group.to_owned()).or_default())
    }
}

/// Spreads every (topic, partition) over the members that read the topic,
/// round-robin in a fixed order, so all members compute the same answer.
pub(crate) fn assign(
    members: &BTreeMap<u64, Vec<String>>,
    partitions: &HashMap<String, u32>,
    me: u64,
) -> Vec<(String, u32)> {
    let mut topics: Vec<&String> = partitions.keys().collect();
    topics.sort();
    let mut mine = Vec::new();
    for topic in topics {
        let readers: Vec<u64> = members
            .iter()
            .filter(|(_, t)| t.contains(topic))
            .map(|(&id, _)| id)
            .collect();
        let Some(count) = partitions.get(topic.as_str()) else {
            continue;
        };
        for p in 0..*count {
            if readers.get(p as usize % readers.len().max(1)) == Some(&me) {
                mine.push((topic.clone(), p));
            }
        }
    }
    mine
}

pub(crate) struct Member {
    coordinator: Arc<Coordinator>,
    store: Arc<Store>,
    group: String,
    id: u64,
    topics: Vec<String>,
    seen_generation: Option<u64>,
    reader: EmbeddedReader,
}

impl Member {
    pub(crate) fn join(
        coordinator: Arc<Coordinator>,
        store: Arc<Store>,
        group: &str,
        topics: &[String],
    ) -> Self {
        let id = coordinator
            .next_member
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        coordinator.with_group(group, |g| {
            g.members.insert(id, topics.to_vec());
            g.generation += 1;
        });
        let reader = EmbeddedReader::new(Arc::clone(&store), Vec::new());
        Member {
            coordinator,
            store,
            group: group.to_owned(),
            id,
            topics: topics.to_vec(),
            seen_generation: None,
            reader,
        }
    }

    /// After a membership change: take this member's share, from the committed positions.
    fn rebalance_if_needed(&mut self) -> Result<(), LogError> {
        let (generation, members) = self
            .coordinator
            .with_group(&self.group, |g| (g.generation, g.members.clone()));
        if self.seen_generation == Some(generation) {
            return Ok(());
        }
        let mut partitions = HashMap::new();
        for topic in &self.topics {
            partitions.insert(topic.clone(), self.store.partitions(topic)?);
        }
        let mut positions = Vec::new();
        for (topic, partition) in assign(&members, &partitions, self.id) {
            let offset = self.store.committed_offset(&self.group, &topic, partition)?;
            positions.push(Position::new(topic, partition, offset));
        }
        self.reader = EmbeddedReader::new(Arc::clone(&self.store), positions);
        self.seen_generation = Some(generation);
        Ok(())
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.coordinator.with_group(&self.group, |g| {
            g.members.remove(&self.id);
            g.generation += 1;
        });
    }
}

#[async_trait]
impl LogReader for Member {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivered>, LogError> {
        self.rebalance_if_needed()?;
        self.reader.poll(max, wait).await
    }
}

#[async_trait]
impl GroupReader for Member {
    async fn commit(&mut self, positions: &[Position]) -> Result<(), LogError> {
        // Only partitions this member still holds: a member that lost a
        // partition in a rebalance must not move its successor's position back.
        let held = self.assignment();
        let mine: Vec<Position> = positions
            .iter()
            .filter(|p| held.iter().any(|(t, n)| *t == p.topic && *n == p.partition))
            .cloned()
            .collect();
        if mine.is_empty() {
            return Ok(());
        }
        self.store.commit_group(&self.group, mine).await
    }

    fn assignment(&self) -> Vec<(String, u32)> {
        self.reader
            .cursors()
            .iter()
            .map(|c| (c.topic.to_string(), c.partition))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_goes_to_exactly_one_member() {
        let mut members = BTreeMap::new();
        for id in [3, 7, 9] {
            members.insert(id, vec!["a".to_string(), "b".to_string()]);
        }
        let partitions = HashMap::from([("a".to_string(), 8), ("b".to_string(), 2)]);
        let mut all: Vec<(String, u32)> = [3, 7, 9]
            .iter()
            .flat_map(|&m| assign(&members, &partitions, m))
            .collect();
        all.sort();
        let mut expected: Vec<(String, u32)> = (0..8)
            .map(|p| ("a".to_string(), p))
            .chain((0..2).map(|p| ("b".to_string(), p)))
            .collect();
        expected.sort();
        assert_eq!(all, expected);
    }

    #[test]
    fn a_member_only_gets_topics_it_reads() {
        let members = BTreeMap::from([(1, vec!["a".to_string()]), (2, vec!["b".to_string()])]);
        let partitions = HashMap::from([("a".to_string(), 2), ("b".to_string(), 2)]);
        assert_eq!(
            assign(&members, &partitions, 1),
            vec![("a".to_string(), 0), ("a".to_string(), 1)]
        );
    }
}
