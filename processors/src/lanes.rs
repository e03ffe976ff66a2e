//! Which conversions run in which lane. Each lane is a consumer group of
//! its own reading every upload and converting the ones that are its, so
//! a 4 MB photo posted just after four 100 MB PNGs is not queued behind
//! them: it has a lane, and a conversion slot, of its own.

use imagegram_schemas::topics::Consumer;

/// Originals up to this size go to the small lane: a 12 MP JPEG (about
/// 4 MB) converts in about 40 ms, a 67 MB PNG in about 300 ms.
pub const SMALL_ORIGINAL_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Originals over [`SMALL_ORIGINAL_BYTES`].
    Large,
    /// Originals up to [`SMALL_ORIGINAL_BYTES`].
    Small,
}

impl Lane {
    pub const ALL: [Lane; 2] = [Lane::Large, Lane::Small];

    /// The lane of an original of `bytes`.
    pub fn of(bytes: u64) -> Lane {
        if bytes <= SMALL_ORIGINAL_BYTES {
            Lane::Small
        } else {
            Lane::Large
        }
    }

    /// The consumer group whose members work this lane.
    pub fn consumer(self) -> Consumer {
        match self {
            Lane::Large => Consumer::ImageConverter,
            Lane::Small => Consumer::SmallImageConverter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_has_exactly_one_lane() {
        assert_eq!(Lane::of(0), Lane::Small);
        assert_eq!(Lane::of(4_000_000), Lane::Small);
        assert_eq!(Lane::of(SMALL_ORIGINAL_BYTES), Lane::Small);
        assert_eq!(Lane::of(SMALL_ORIGINAL_BYTES + 1), Lane::Large);
        assert_eq!(Lane::of(104_857_600), Lane::Large);
        assert_ne!(Lane::Large.consumer(), Lane::Small.consumer());
    }
}
