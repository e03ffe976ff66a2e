//! Pictures in other colour spaces, made here from sRGB ones: ICC profiles
//! written from their primaries and curves (Display P3, Adobe RGB, ProPhoto,
//! a CMYK press), the pixels converted into them, and the profile placed
//! in a JPEG's APP2 segments. What the colour tests and the benchmark post.

/// An RGB colour space: white point and primaries (CIE xy) and its curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RgbSpace {
    pub name: &'static str,
    pub white: (f64, f64),
    pub primaries: [(f64, f64); 3],
    pub curve: Curve,
}

/// How a space encodes linear light.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Curve {
    /// sRGB's piecewise curve.
    Srgb,
    /// A pure power: encoded = linear^(1/gamma).
    Gamma(f64),
}

impl Curve {
    pub fn decode(self, v: f64) -> f64 {
        match self {
            Curve::Srgb if v <= 0.04045 => v / 12.92,
            Curve::Srgb => ((v + 0.055) / 1.055).powf(2.4),
            Curve::Gamma(g) => v.max(0.0).powf(g),
        }
    }

    pub fn encode(self, v: f64) -> f64 {
        let v = v.clamp(0.0, 1.0);
        match self {
            Curve::Srgb if v <= 0.0031308 => v * 12.92,
            Curve::Srgb => 1.055 * v.powf(1.0 / 2.4) - 0.055,
            Curve::Gamma(g) => v.powf(1.0 / g),
        }
    }
}

const D65: (f64, f64) = (0.3127, 0.3290);
const D50: (f64, f64) = (0.3457, 0.3585);

pub const SRGB: RgbSpace = RgbSpace {
    name: "sRGB",
    white: D65,
    primaries: [(0.64, 0.33), (0.30, 0.60), (0.15, 0.06)],
    curve: Curve::Srgb,
};
pub const DISPLAY_P3: RgbSpace = RgbSpace {
    name: "Display P3",
    white: D65,
    primaries: [(0.680, 0.320), (0.265, 0.690), (0.150, 0.060)],
    curve: Curve::Srgb,
};
pub const ADOBE_RGB: RgbSpace = RgbSpace {
    name: "Adobe RGB (1998)",
    white: D65,
    primaries: [(0.64, 0.33), (0.21, 0.71), (0.15, 0.06)],
    curve: Curve::Gamma(563.0 / 256.0),
};
pub const PROPHOTO: RgbSpace = RgbSpace {
    name: "ProPhoto RGB",
    white: D50,
    primaries: [(0.7347, 0.2653), (0.1596, 0.8404), (0.0366, 0.0001)],
    curve: Curve::Gamma(1.8),
};

type Matrix = [[f64; 3]; 3];

fn mul(a: &Matrix, b: &Matrix) -> Matrix {
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

fn apply(m: &Matrix, v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

fn invert(m: &Matrix) -> Matrix {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let c = |r0: usize, r1: usize, c0: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    [
        [c(1, 2, 1, 2) / det, -c(0, 2, 1, 2) / det, c(0, 1, 1, 2) / det],
        [-c(1, 2, 0, 2) / det, c(0, 2, 0, 2) / det, -c(0, 1, 0, 2) / det],
        [c(1, 2, 0, 1) / det, -c(0, 2, 0, 1) / det, c(0, 1, 0, 1) / det],
    ]
}

fn xyz_of((x, y): (f64, f64)) -> [f64; 3] {
    [x / y, 1.0, (1.0 - x - y) / y]
}

/// Bradford adaptation from one white to another.
fn adapt(from: (f64, f64), to: (f64, f64)) -> Matrix {
    let bradford: Matrix = [
        [0.8951, 0.2664, -0.1614],
        [-0.7502, 1.7135, 0.0367],
        [0.0389, -0.0685, 1.0296],
    ];
    let (s, d) = (apply(&bradford, xyz_of(from)), apply(&bradford, xyz_of(to)));
    let scale = [
        [d[0] / s[0], 0.0, 0.0],
        [0.0, d[1] / s[1], 0.0],
        [0.0, 0.0, d[2] / s[2]],
    ];
    mul(&invert(&bradford), &mul(&scale, &bradford))
}

/// ICC's D50 white, as profiles state it.
const PCS_WHITE: [f64; 3] = [0.9642, 1.0, 0.8249];

impl RgbSpace {
    /// Linear RGB to XYZ relative to D50 (as an ICC profile's colorants).
    pub fn to_pcs(&self) -> Matrix {
        let p: Matrix = {
            let [r, g, b] = self.primaries.map(xyz_of);
            [[r[0], g[0], b[0]], [r[1], g[1], b[1]], [r[2], g[2], b[2]]]
        };
        let s = apply(&invert(&p), xyz_of(self.white));
        let m = [0, 1, 2].map(|i| [0, 1, 2].map(|j| p[i][j] * s[j]));
        mul(&adapt(self.white, D50), &m)
    }
}

/// sRGB pixels (three bytes each) in `space`, as a colour-managed
/// program would save them: relative colorimetric, through D50.
pub fn from_srgb(rgb: &[u8], space: &RgbSpace) -> Vec<u8> {
    let m = mul(&invert(&space.to_pcs()), &SRGB.to_pcs());
    rgb.chunks_exact(3)
        .flat_map(|p| {
            let linear = [0, 1, 2].map(|i| Curve::Srgb.decode(f64::from(p[i]) / 255.0));
            apply(&m, linear).map(|v| (space.curve.encode(v) * 255.0).round() as u8)
        })
        .collect()
}

/// The press the CMYK tests print on: each ink's coverage t shows as
/// `t^0.75` (dot gain), and inks multiply sRGB's encoded values, so a
/// file made for it looks clearly wrong read as plain `1 − ink`.
pub const DOT_GAIN: f64 = 0.75;

/// sRGB of `cmyk` (0..1, ink amounts) on that press.
pub fn press_to_srgb(cmyk: [f64; 4], gain: f64) -> [f64; 3] {
    let [c, m, y, k] = cmyk.map(|t| t.clamp(0.0, 1.0).powf(gain));
    [
        (1.0 - c) * (1.0 - k),
        (1.0 - m) * (1.0 - k),
        (1.0 - y) * (1.0 - k),
    ]
}

/// Ink amounts (four bytes each, 0 none) that print `rgb` on the press
/// of `gain` (1.0: the plain conversion): grey component replaced by black.
pub fn cmyk_from_srgb(rgb: &[u8], gain: f64) -> Vec<u8> {
    rgb.chunks_exact(3)
        .flat_map(|p| {
            let [r, g, b] = [0, 1, 2].map(|i| f64::from(p[i]) / 255.0);
            let k = 1.0 - r.max(g).max(b);
            let ink = |v: f64| if k >= 1.0 { 0.0 } else { 1.0 - v / (1.0 - k) };
            [ink(r), ink(g), ink(b), k].map(|t| (t.clamp(0.0, 1.0).powf(1.0 / gain) * 255.0).round() as u8)
        })
        .collect()
}

fn s15(v: f64) -> [u8; 4] {
    ((v * 65536.0).round() as i32).to_be_bytes()
}

fn xyz_tag(v: [f64; 3]) -> Vec<u8> {
    let mut t = b"XYZ \0\0\0\0".to_vec();
    v.iter().for_each(|&c| t.extend(s15(c)));
    t
}

fn curve_tag(curve: Curve) -> Vec<u8> {
    let mut t = b"curv\0\0\0\0".to_vec();
    match curve {
        Curve::Gamma(g) => {
            t.extend(1u32.to_be_bytes());
            t.extend(((g * 256.0).round() as u16).to_be_bytes());
        }
        Curve::Srgb => {
            t.extend(1024u32.to_be_bytes());
            for i in 0..1024 {
                let v = Curve::Srgb.decode(f64::from(i) / 1023.0);
                t.extend(((v * 65535.0).round() as u16).to_be_bytes());
            }
        }
    }
    t
}

fn text_tag(kind: &[u8; 4], text: &str) -> Vec<u8> {
    let mut t = kind.to_vec();
    t.extend([0; 4]);
    if kind == b"desc" {
        t.extend((text.len() as u32 + 1).to_be_bytes());
        t.extend(text.as_bytes());
        t.push(0);
        t.extend([0; 4 + 4 + 2 + 1 + 67]); // no Unicode, no ScriptCode
    } else {
        t.extend(text.as_bytes());
        t.push(0);
    }
    t
}

/// An ICC v2 profile of `class` and `space` with `tags`, each padded to
/// four bytes as the format asks.
fn profile(class: &[u8; 4], space: &[u8; 4], tags: Vec<(&[u8; 4], Vec<u8>)>) -> Vec<u8> {
    let table = 4 + 12 * tags.len();
    let mut body = Vec::new();
    let mut entries = Vec::new();
    for (signature, mut data) in tags {
        let offset = 128 + table + body.len();
        entries.push((signature, offset, data.len()));
        while data.len() % 4 != 0 {
            data.push(0);
        }
        body.extend(data);
    }
    let size = 128 + table + body.len();
    let mut icc = Vec::with_capacity(size);
    icc.extend((size as u32).to_be_bytes());
    icc.extend([0; 4]); // CMM
    icc.extend([2, 0x10, 0, 0]); // version 2.1
    icc.extend(class);
    icc.extend(space);
    icc.extend(b"XYZ ");
    icc.extend([0; 12]); // date
    icc.extend(b"acsp");
    icc.extend([0; 4 + 4 + 4 + 4 + 8]); // platform, flags, maker, model, attributes
    icc.extend([0; 4]); // perceptual
    PCS_WHITE.iter().for_each(|&c| icc.extend(s15(c)));
    icc.resize(128, 0);
    icc.extend((entries.len() as u32).to_be_bytes());
    for (signature, offset, len) in entries {
        icc.extend(signature);
        icc.extend((offset as u32).to_be_bytes());
        icc.extend((len as u32).to_be_bytes());
    }
    icc.extend(body);
    icc
}

/// A display profile of `space`: colorants, curves, white, description.
pub fn rgb_profile(space: &RgbSpace) -> Vec<u8> {
    let m = space.to_pcs();
    let column = |j: usize| [m[0][j], m[1][j], m[2][j]];
    let trc = curve_tag(space.curve);
    profile(
        b"mntr",
        b"RGB ",
        vec![
            (b"desc", text_tag(b"desc", space.name)),
            (
                b"cprt",
                text_tag(b"text", "No copyright: made by Imagegram's tests"),
            ),
            (b"wtpt", xyz_tag(PCS_WHITE)),
            (b"rXYZ", xyz_tag(column(0))),
            (b"gXYZ", xyz_tag(column(1))),
            (b"bXYZ", xyz_tag(column(2))),
            (b"rTRC", trc.clone()),
            (b"gTRC", trc.clone()),
            (b"bTRC", trc),
        ],
    )
}

/// An output profile of the press of `gain` (see [`press_to_srgb`]): a
/// 16-bit CMYK → XYZ table of 17⁴ points as its A2B0 (perceptual).
pub fn cmyk_profile(gain: f64) -> Vec<u8> {
    const GRID: usize = 17;
    let to_pcs = SRGB.to_pcs();
    let mut lut = b"mft2\0\0\0\0".to_vec();
    lut.extend([4, 3, GRID as u8, 0]);
    // The matrix, used only for XYZ input: identity.
    for v in [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0] {
        lut.extend(s15(v));
    }
    lut.extend(2u16.to_be_bytes()); // input table entries
    lut.extend(2u16.to_be_bytes()); // output table entries
    for _ in 0..4 {
        lut.extend([0, 0, 0xFF, 0xFF]);
    }
    let step = |i: usize| i as f64 / (GRID - 1) as f64;
    for c in 0..GRID {
        for m in 0..GRID {
            for y in 0..GRID {
                for k in 0..GRID {
                    let srgb = press_to_srgb([step(c), step(m), step(y), step(k)], gain);
                    let xyz = apply(&to_pcs, srgb.map(|v| Curve::Srgb.decode(v)));
                    // XYZ in 16 bits: 1.0 is 0x8000.
                    xyz.iter().for_each(|&v| {
                        lut.extend(((v * 32768.0).round().clamp(0.0, 65535.0) as u16).to_be_bytes())
                    });
                }
            }
        }
    }
    for _ in 0..3 {
        lut.extend([0, 0, 0xFF, 0xFF]);
    }
    profile(
        b"prtr",
        b"CMYK",
        vec![
            (b"desc", text_tag(b"desc", "Imagegram test press")),
            (
                b"cprt",
                text_tag(b"text", "No copyright: made by Imagegram's tests"),
            ),
            (b"wtpt", xyz_tag(PCS_WHITE)),
            (b"A2B0", lut),
        ],
    )
}

/// `jpeg` with `icc` in APP2 `ICC_PROFILE` segments of at most `chunk`
/// bytes of profile each, right after its SOI.
pub fn jpeg_with_icc(jpeg: &[u8], icc: &[u8], chunk: usize) -> Vec<u8> {
    let parts: Vec<&[u8]> = icc.chunks(chunk.clamp(1, 65_519)).collect();
    let mut out = jpeg[..2].to_vec();
    for (i, part) in parts.iter().enumerate() {
        out.extend([0xFF, 0xE2]);
        out.extend(((2 + 12 + 2 + part.len()) as u16).to_be_bytes());
        out.extend(b"ICC_PROFILE\0");
        out.extend([i as u8 + 1, parts.len() as u8]);
        out.extend(*part);
    }
    out.extend(&jpeg[2..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srgb_white_lands_on_the_pcs_white() {
        let white = apply(&SRGB.to_pcs(), [1.0, 1.0, 1.0]);
        for (a, b) in white.iter().zip(PCS_WHITE) {
            assert!((a - b).abs() < 0.002, "{white:?}");
        }
    }

    #[test]
    fn srgb_is_unchanged_through_its_own_space_and_greys_stay_grey() {
        let px = [10u8, 128, 250, 77, 77, 77];
        assert_eq!(from_srgb(&px, &SRGB), px.to_vec());
        let grey = from_srgb(&[77, 77, 77], &ADOBE_RGB);
        assert!(
            grey[0].abs_diff(grey[1]) <= 1 && grey[1].abs_diff(grey[2]) <= 1,
            "{grey:?}"
        );
    }

    #[test]
    fn plain_cmyk_round_trips() {
        let rgb = [200u8, 30, 90];
        let cmyk = cmyk_from_srgb(&rgb, 1.0);
        let back = press_to_srgb([0, 1, 2, 3].map(|i| f64::from(cmyk[i]) / 255.0), 1.0);
        for (a, b) in back.iter().zip(rgb) {
            assert!((a * 255.0 - f64::from(b)).abs() < 2.0, "{back:?}");
        }
    }
}
