//! Box shrinking while decoding: pixels are summed into cells a whole
//! factor smaller than the visible region, as they arrive. Rows that come
//! top to bottom are summed one row of cells at a time; the passes of an
//! interlaced PNG, in any order, into every cell at once. The full-size
//! image never exists in memory; the shrunk one is at most about
//! 2400x2400 cells.

use image::RgbImage;

/// The part of the source that will be seen, in source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Region {
    /// For cover, the centred square of the short side (cropping is
    /// symmetric, so it is the same region whatever the EXIF orientation);
    /// for fit, everything.
    pub fn visible(width: u32, height: u32, cover: bool) -> Region {
        if !cover {
            return Region {
                x: 0,
                y: 0,
                width,
                height,
            };
        }
        let side = width.min(height);
        Region {
            x: (width - side) / 2,
            y: (height - side) / 2,
            width: side,
            height: side,
        }
    }
}

/// The largest whole shrink that still leaves at least twice the output
/// size for the final Lanczos pass, at most 16 (so a cell's sum fits u16).
pub fn factor(region: Region, size: u32) -> u32 {
    let long = region.width.max(region.height);
    (long / (2 * size.max(1))).clamp(1, 16)
}

pub struct Shrinker {
    region: Region,
    factor: u32,
    cols: u32,
    rows: u32,
    sums: Sums,
}

/// Where the sums of the cells live.
enum Sums {
    /// Rows arrive top to bottom (a PNG that is not interlaced): the rows
    /// of one row of cells are summed per source column (one add per
    /// sample, which the compiler vectorises), and the columns are summed
    /// into cells and averaged into `out` once the cell row is whole. Only
    /// the shrunk image is held, not a grid of sums as large.
    InOrder {
        row: u32,
        columns: Vec<u16>,
        out: Vec<u8>,
    },
    /// Rows arrive in any order (the passes of an interlaced PNG): every
    /// cell's sum is kept until the end.
    AnyOrder(Vec<u16>),
}

impl Shrinker {
    /// `in_order`: rows will come top to bottom, each whole, one at a time.
    pub fn new(region: Region, factor: u32, in_order: bool) -> Shrinker {
        let cols = region.width.div_ceil(factor);
        let rows = region.height.div_ceil(factor);
        let cells = cols as usize * 3;
        let sums = if in_order {
            Sums::InOrder {
                row: 0,
                columns: vec![0; region.width as usize * 3],
                out: Vec::with_capacity(cells * rows as usize),
            }
        } else {
            Sums::AnyOrder(vec![0; cells * rows as usize])
        };
        Shrinker {
            region,
            factor,
            cols,
            rows,
            sums,
        }
    }

    /// Adds RGB `pixels` of source row `y`, the i-th at column
    /// `x0 + i * step`. Pixels outside the region are ignored.
    pub fn add_row(&mut self, y: u32, x0: u32, step: u32, pixels: &[u8]) {
        let r = self.region;
        if y < r.y || y >= r.y + r.height {
            return;
        }
        let cell_row = (y - r.y) / self.factor;
        loop {
            match &self.sums {
                Sums::InOrder { row, .. } if *row < cell_row => self.finish_cell_row(),
                // A row of a cell row already averaged: not in order after all.
                Sums::InOrder { row, .. } if *row > cell_row => return,
                _ => break,
            }
        }
        match &mut self.sums {
            Sums::InOrder { columns, .. } if x0 == 0 && step == 1 => {
                let visible = pixels.get(r.x as usize * 3..).unwrap_or_default();
                for (sum, &v) in columns.iter_mut().zip(visible) {
                    *sum += u16::from(v);
                }
            }
            // Each column a cell of its own: the same placing as the grid's.
            Sums::InOrder { columns, .. } => add_strided(columns, 0, r, 1, x0, step, pixels),
            Sums::AnyOrder(sums) => {
                let first_cell = cell_row as usize * self.cols as usize;
                add_strided(sums, first_cell, r, self.factor, x0, step, pixels);
            }
        }
    }

    /// In order: the summed columns added up into the cell row, averaged
    /// into the output, and cleared for the next cell row.
    fn finish_cell_row(&mut self) {
        let (f, r, rows) = (self.factor, self.region, self.rows);
        let Sums::InOrder { row, columns, out } = &mut self.sums else {
            return;
        };
        if *row >= rows {
            return;
        }
        let h = span(f, *row, r.height);
        let whole = Mean::of(f * h);
        for cell in columns.chunks(f as usize * 3) {
            let pixels = cell.len() / 3;
            let mean = if pixels == f as usize {
                whole
            } else {
                Mean::of(pixels as u32 * h)
            };
            let mut sum = [0u32; 3];
            for px in cell.chunks_exact(3) {
                for (total, &v) in sum.iter_mut().zip(px) {
                    *total += u32::from(v);
                }
            }
            out.extend(sum.map(|total| mean.of_sum(total)));
        }
        columns.fill(0);
        *row += 1;
    }

    /// The shrunk region: each cell is the mean of the source pixels in it
    /// (cells on the right and bottom edges may hold fewer).
    pub fn finish(mut self) -> RgbImage {
        let (cols, rows) = (self.cols, self.rows);
        let out = match &self.sums {
            Sums::InOrder { .. } => {
                // Rows the source never sent (it ended early) stay black.
                while matches!(&self.sums, Sums::InOrder { row, .. } if *row < rows) {
                    self.finish_cell_row();
                }
                match self.sums {
                    Sums::InOrder { out, .. } => out,
                    Sums::AnyOrder(_) => Vec::new(),
                }
            }
            Sums::AnyOrder(sums) => {
                let mut out = Vec::with_capacity(sums.len());
                for row in 0..rows {
                    let h = span(self.factor, row, self.region.height);
                    for col in 0..cols {
                        let mean = Mean::of(span(self.factor, col, self.region.width) * h);
                        let at = (row * cols + col) as usize * 3;
                        for &sum in &sums[at..at + 3] {
                            out.push(mean.of_sum(u32::from(sum)));
                        }
                    }
                }
                out
            }
        };
        RgbImage::from_raw(cols, rows, out).unwrap_or_default()
    }
}

/// How many source pixels cell `i` spans on a side `len` long.
fn span(factor: u32, i: u32, len: u32) -> u32 {
    (len - i * factor).min(factor)
}

/// Adds the pixels of a row whose i-th is at column `x0 + i * step` to
/// the cells from `first_cell` on.
fn add_strided(
    cells: &mut [u16],
    first_cell: usize,
    r: Region,
    factor: u32,
    x0: u32,
    step: u32,
    pixels: &[u8],
) {
    for (i, px) in pixels.chunks_exact(3).enumerate() {
        let x = x0 + i as u32 * step;
        if x < r.x {
            continue;
        }
        if x >= r.x + r.width {
            break;
        }
        let at = (first_cell + ((x - r.x) / factor) as usize) * 3;
        for (sum, &v) in cells[at..at + 3].iter_mut().zip(px) {
            *sum += u16::from(v);
        }
    }
}

/// Division by a cell's pixel count, rounded, as a multiply and a shift:
/// exact for every sum a cell can hold (below 2^17, for counts up to 256).
#[derive(Clone, Copy)]
struct Mean {
    n: u32,
    inverse: u64,
}

impl Mean {
    fn of(n: u32) -> Mean {
        let n = n.max(1);
        Mean {
            n,
            inverse: (1u64 << 32).div_ceil(u64::from(n)),
        }
    }

    fn of_sum(self, sum: u32) -> u8 {
        ((u64::from(sum + self.n / 2) * self.inverse) >> 32) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cover_sees_the_centred_square() {
        assert_eq!(
            Region::visible(4000, 3000, true),
            Region {
                x: 500,
                y: 0,
                width: 3000,
                height: 3000
            }
        );
        assert_eq!(Region::visible(10, 30, false).height, 30);
    }

    #[test]
    fn the_factor_leaves_room_for_lanczos() {
        let r = |w, h| Region {
            x: 0,
            y: 0,
            width: w,
            height: h,
        };
        assert_eq!(factor(r(3000, 3000), 600), 2);
        assert_eq!(factor(r(1000, 1000), 600), 1);
        assert_eq!(factor(r(100_000, 1000), 600), 16);
    }

    #[test]
    fn cells_are_means_including_the_ragged_edge() {
        let region = Region {
            x: 1,
            y: 0,
            width: 3,
            height: 3,
        };
        let mut s = Shrinker::new(region, 2, true);
        for y in 0..3 {
            // Column 0 is outside the region and must not count.
            let row: Vec<u8> = (0..4u8).flat_map(|x| [x * 10 + y as u8; 3]).collect();
            s.add_row(y, 0, 1, &row);
        }
        let out = s.finish();
        assert_eq!(out.dimensions(), (2, 2));
        // Cell (0,0): columns 1-2, rows 0-1 → values 10,20,11,21 → mean 15.5 → 16.
        assert_eq!(out.get_pixel(0, 0).0, [16; 3]);
        // Cell (1,1): column 3, row 2 only → 32.
        assert_eq!(out.get_pixel(1, 1).0, [32; 3]);
    }

    #[test]
    fn strided_rows_land_in_their_columns() {
        let region = Region {
            x: 0,
            y: 0,
            width: 4,
            height: 1,
        };
        let mut s = Shrinker::new(region, 1, false);
        s.add_row(0, 1, 2, &[9, 9, 9, 7, 7, 7]);
        let out = s.finish();
        assert_eq!(out.get_pixel(1, 0).0, [9; 3]);
        assert_eq!(out.get_pixel(3, 0).0, [7; 3]);
        assert_eq!(out.get_pixel(0, 0).0, [0; 3]);
    }

    #[test]
    fn a_mean_is_the_rounded_division_for_every_sum_a_cell_holds() {
        for n in 1..=256u32 {
            let mean = Mean::of(n);
            for sum in 0..=255 * n {
                assert_eq!(mean.of_sum(sum), ((sum + n / 2) / n) as u8, "{sum} / {n}");
            }
        }
    }

    proptest! {
        /// Rows summed a cell row at a time give what summing every cell
        /// to the end gives, whatever the region, factor and pixels.
        #[test]
        fn rows_in_order_shrink_as_rows_in_any_order(
            (width, height, x, y, factor) in (1u32..40, 1u32..40)
                .prop_flat_map(|(w, h)| (Just(w), Just(h), 0..w, 0..h, 1u32..17)),
            seed in any::<u64>(),
        ) {
            let region = Region { x, y: y / 2, width: width - x, height: height - y };
            let mut state = seed | 1;
            let mut ordered = Shrinker::new(region, factor, true);
            let mut any = Shrinker::new(region, factor, false);
            for row in 0..height {
                let pixels: Vec<u8> = (0..width * 3)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        state as u8
                    })
                    .collect();
                ordered.add_row(row, 0, 1, &pixels);
                any.add_row(row, 0, 1, &pixels);
            }
            prop_assert_eq!(ordered.finish(), any.finish());
        }
    }
}
