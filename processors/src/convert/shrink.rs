//! Box shrinking while decoding: pixels are summed into an accumulator a
//! whole factor smaller than the visible region, as they arrive and in any
//! order (so interlaced PNG passes work too). The full-size image never
//! exists in memory; what does is at most about 2400x2400 cells.

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
    sums: Vec<u16>,
}

impl Shrinker {
    pub fn new(region: Region, factor: u32) -> Shrinker {
        let cols = region.width.div_ceil(factor);
        let rows = region.height.div_ceil(factor);
        Shrinker {
            region,
            factor,
            cols,
            rows,
            sums: vec![0; cols as usize * rows as usize * 3],
        }
    }

    /// Adds RGB `pixels` of source row `y`, the i-th at column
    /// `x0 + i * step`. Pixels outside the region are ignored.
    pub fn add_row(&mut self, y: u32, x0: u32, step: u32, pixels: &[u8]) {
        let r = self.region;
        if y < r.y || y >= r.y + r.height {
            return;
        }
        let cell_row = ((y - r.y) / self.factor) as usize * self.cols as usize;
        for (i, px) in pixels.chunks_exact(3).enumerate() {
            let x = x0 + i as u32 * step;
            if x < r.x {
                continue;
            }
            if x >= r.x + r.width {
                break;
            }
            let at = (cell_row + ((x - r.x) / self.factor) as usize) * 3;
            for (sum, &v) in self.sums[at..at + 3].iter_mut().zip(px) {
                *sum += u16::from(v);
            }
        }
    }

    /// The shrunk region: each cell is the mean of the source pixels in it
    /// (cells on the right and bottom edges may hold fewer).
    pub fn finish(self) -> RgbImage {
        let (f, r) = (self.factor, self.region);
        let span = |i: u32, len: u32| (len - i * f).min(f);
        let mut out = Vec::with_capacity(self.sums.len());
        for row in 0..self.rows {
            let h = span(row, r.height);
            for col in 0..self.cols {
                let n = span(col, r.width) * h;
                let at = (row * self.cols + col) as usize * 3;
                for c in 0..3 {
                    let sum = u32::from(self.sums[at + c]);
                    out.push(((sum + n / 2) / n) as u8);
                }
            }
        }
        RgbImage::from_raw(self.cols, self.rows, out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut s = Shrinker::new(region, 2);
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
        let mut s = Shrinker::new(region, 1);
        s.add_row(0, 1, 2, &[9, 9, 9, 7, 7, 7]);
        let out = s.finish();
        assert_eq!(out.get_pixel(1, 0).0, [9; 3]);
        assert_eq!(out.get_pixel(3, 0).0, [7; 3]);
        assert_eq!(out.get_pixel(0, 0).0, [0; 3]);
    }
}
