//! A reproducible stream of events like the real traffic: posts uploaded
//! and published, comments spread unevenly over them (a few posts get most),
//! some deleted by their authors and some deletes forged by others — and
//! what the read tables must say afterwards.

use std::collections::HashMap;

use imagegram_eventlog::{EventLog, Record};
use imagegram_schemas::{
    topics, CommentAdded, CommentDeleted, Event, EventMeta, ImageConverted, ImageFormat, UploadRequested,
};
use uuid::Uuid;

pub struct Workload {
    pub events: Vec<Event>,
    /// Live comments per post once everything is applied.
    pub counts: HashMap<Uuid, i64>,
    /// Each post's live comments as (created_at, id), for its last two.
    pub live: HashMap<Uuid, Vec<(i64, Uuid)>>,
    pub posts: Vec<Uuid>,
}

/// xorshift64*: small, fast and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Skewed towards 0: the square of a uniform draw.
    pub fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u) * n as f64) as usize % n.max(1)
    }
}

fn meta(seed: &mut Rng, actor: &str, post_id: Uuid, at: i64) -> EventMeta {
    let event_id = Uuid::from_u64_pair(seed.next_u64(), seed.next_u64());
    EventMeta {
        event_id,
        idempotency_key: event_id.to_string(),
        actor: actor.to_owned(),
        occurred_at: at,
        post_id,
        request_id: None,
    }
}

/// `posts` published posts, then `comments` comments, a tenth of them
/// deleted by their author and a hundredth "deleted" by someone else.
pub fn workload(posts: usize, comments: usize, seed: u64) -> Workload {
    let mut rng = Rng::new(seed);
    let mut events = Vec::with_capacity(posts * 2 + comments * 12 / 10);
    let mut counts = HashMap::new();
    let mut live: HashMap<Uuid, Vec<(i64, Uuid)>> = HashMap::new();
    let mut at = 1_700_000_000_000_000i64;
    let ids: Vec<Uuid> = (0..posts)
        .map(|_| Uuid::from_u64_pair(rng.next_u64(), rng.next_u64()))
        .collect();
    for (i, &post) in ids.iter().enumerate() {
        at += 1_000;
        let creator = format!("user{}", i % 50);
        events.push(Event::UploadRequested(UploadRequested {
            meta: meta(&mut rng, &creator, post, at),
            caption: format!("post {i}"),
            original_key: format!("originals/{post}"),
            format: ImageFormat::Png,
            byte_size: 1_000,
            original_filename: None,
        }));
        events.push(Event::ImageConverted(ImageConverted {
            meta: meta(&mut rng, &creator, post, at + 10),
            original_key: format!("originals/{post}"),
            image_key: format!("images/{post}.jpg"),
            width: 600,
            height: 600,
            byte_size: 50_000,
        }));
        counts.insert(post, 0);
    }
    for i in 0..comments {
        at += 100;
        let post = ids[rng.skewed(ids.len())];
        let author = format!("user{}", rng.next_u64() % 200);
        let comment_id = Uuid::from_u64_pair(rng.next_u64(), rng.next_u64());
        events.push(Event::CommentAdded(CommentAdded {
            meta: meta(&mut rng, &author, post, at),
            comment_id,
            content: format!("comment {i}"),
        }));
        *counts.entry(post).or_default() += 1;
        live.entry(post).or_default().push((at, comment_id));
        if i % 10 == 3 {
            events.push(Event::CommentDeleted(CommentDeleted {
                meta: meta(&mut rng, &author, post, at + 1),
                comment_id,
            }));
            *counts.entry(post).or_default() -= 1;
            live.entry(post).or_default().retain(|&(_, id)| id != comment_id);
        } else if i % 100 == 7 {
            events.push(Event::CommentDeleted(CommentDeleted {
                meta: meta(&mut rng, "mallory", post, at + 1),
                comment_id,
            }));
        }
    }
    Workload {
        events,
        counts,
        live,
        posts: ids,
    }
}

impl Workload {
    /// The ids of `post`'s last two live comments, newest first.
    pub fn last_two(&self, post: Uuid) -> Vec<Uuid> {
        let mut live = self.live.get(&post).cloned().unwrap_or_default();
        live.sort_by(|a, b| b.cmp(a));
        live.into_iter().take(2).map(|(_, id)| id).collect()
    }

    /// Fails unless every post in `store` has its exact count and last two.
    pub async fn check(&self, store: &dyn imagegram_readstore::ReadModel) {
        for &post in &self.posts {
            let view = store.post(post).await.expect("read post").expect("post exists");
            assert_eq!(view.comment_count, self.counts[&post], "comment count of {post}");
            let last: Vec<Uuid> = view.last_comments.iter().map(|c| c.id).collect();
            assert_eq!(last, self.last_two(post), "last two comments of {post}");
        }
    }
}

/// Appends `events` to their topics in chunks of up to `chunk` records.
pub async fn append_all(log: &dyn EventLog, events: &[Event], chunk: usize) {
    let mut by_topic: HashMap<&'static str, Vec<Record>> = HashMap::new();
    for event in events {
        let topic = topics::topic_for(event.kind()).name;
        let bytes = imagegram_schemas::encode(event).expect("encode");
        let records = by_topic.entry(topic).or_default();
        records.push(Record::new(event.key(), bytes));
        if records.len() >= chunk {
            log.append(topic, std::mem::take(records)).await.expect("append");
        }
    }
    for (topic, records) in by_topic {
        if !records.is_empty() {
            log.append(topic, records).await.expect("append");
        }
    }
}
