//! Conversion speed and peak memory against libvips' `vipsthumbnail`, in
//! the same run on the same files: a 12-megapixel JPEG, a 24-megapixel PNG
//! and a 100 MB PNG, each made to a 600x600 cover-cropped JPEG at quality 85.
//!
//! Both run as a fresh process per conversion (this bench re-runs itself
//! with `--convert`), so peak resident memory is measured the same way for
//! both, with wait4(2). The process that spawns and waits is itself a fresh,
//! small re-run of this bench (`--measure`): Linux carries a parent's peak
//! into a forked child's, so the large process that made the test images
//! must not be the one that forks.
//!
//! `cargo bench -p imagegram-processors --bench vs_vipsthumbnail`
//! (`IMAGEGRAM_BENCH_RUNS` sets the runs per case, default 5).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use imagegram_processors::convert::{convert_file, ConvertOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, input, output] = args.as_slice() {
        if flag == "--convert" {
            let out = convert_file(File::open(input)?, &ConvertOptions::default())?;
            std::fs::write(output, out.jpeg)?;
            return Ok(());
        }
    }
    if let [_, flag, program, rest @ ..] = args.as_slice() {
        if flag == "--measure" {
            let child = Command::new(program).args(rest).spawn()?;
            let (status, maxrss_kib) = wait_with_rusage(child.id())?;
            if !status_ok(status) {
                return Err(format!("{program} {rest:?} failed").into());
            }
            println!("{maxrss_kib}");
            return Ok(());
        }
    }
    if Command::new("vipsthumbnail")
        .arg("--vips-version")
        .output()
        .is_err()
    {
        eprintln!("vipsthumbnail is not installed (apt-get install libvips-tools); nothing to compare");
        return Ok(());
    }
    let runs: usize = std::env::var("IMAGEGRAM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = std::env::temp_dir().join("imagegram-bench-images");
    std::fs::create_dir_all(&dir)?;
    let cases = [
        ("12 MP JPEG", make_jpeg(&dir.join("12mp.jpg"), 4000, 3000)?),
        ("24 MP PNG", make_png(&dir.join("24mp.png"), 6000, 4000, false)?),
        ("100 MB PNG", make_png(&dir.join("100mb.png"), 5800, 5800, true)?),
    ];
    let me = std::env::current_exe()?;
    println!(
        "| image | file size | imagegram ms | vipsthumbnail ms | time ratio | imagegram peak MiB | vipsthumbnail peak MiB | memory ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, path) in cases {
        let out = dir.join("out.jpg");
        let ours = measure(runs, || {
            let mut c = Command::new(&me);
            c.arg("--convert").arg(&path).arg(&out);
            c
        })?;
        let vips = measure(runs, || {
            let mut c = Command::new("vipsthumbnail");
            c.arg(&path)
                .args(["--size", "600x600", "--smartcrop", "centre", "-o"])
                .arg(format!("{}[Q=85,strip]", dir.join("vips.jpg").display()));
            c
        })?;
        let size_mb = std::fs::metadata(&path)?.len() as f64 / 1e6;
        println!(
            "| {name} | {size_mb:.1} MB | {:.0} | {:.0} | {:.2} | {:.1} | {:.1} | {:.2} |",
            ms(ours.0),
            ms(vips.0),
            ms(ours.0) / ms(vips.0),
            ours.1,
            vips.1,
            ours.1 / vips.1,
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median wall time and largest peak resident memory (MiB) over `runs`.
fn measure(
    runs: usize,
    command: impl Fn() -> Command,
) -> Result<(Duration, f64), Box<dyn std::error::Error>> {
    let me = std::env::current_exe()?;
    let mut times = Vec::with_capacity(runs);
    let mut peak = 0f64;
    for _ in 0..runs.max(1) {
        let inner = command();
        let mut outer = Command::new(&me);
        outer
            .arg("--measure")
            .arg(inner.get_program())
            .args(inner.get_args());
        let started = Instant::now();
        let output = outer.output()?;
        times.push(started.elapsed());
        if !output.status.success() {
            return Err(format!("{inner:?} failed: {}", String::from_utf8_lossy(&output.stderr)).into());
        }
        let kib: f64 = String::from_utf8_lossy(&output.stdout).trim().parse()?;
        peak = peak.max(kib / 1024.0);
    }
    times.sort();
    Ok((times[times.len() / 2], peak))
}

fn status_ok(status: i32) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

/// waitpid that also returns the child's own peak resident memory (KiB).
fn wait_with_rusage(pid: u32) -> std::io::Result<(i32, i64)> {
    let mut status = 0;
    // SAFETY: rusage is plain data, zeroed is a valid value; wait4 writes it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child; the pointers are to live locals.
    let done = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if done < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((status, usage.ru_maxrss))
}

/// A photo-like test picture: smooth gradients with fine texture, so
/// codecs meet both flat areas and detail. `noise` makes it incompressible.
fn pixel_row(y: u32, w: u32, h: u32, noise: bool, state: &mut u64, row: &mut Vec<u8>) {
    row.clear();
    for x in 0..w {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let grain = (*state & 0x1f) as u32;
        if noise {
            row.extend_from_slice(&state.to_le_bytes()[..3]);
        } else {
            row.extend([
                (x * 200 / w + grain) as u8,
                (y * 200 / h + grain) as u8,
                ((x + y) % 256 / 2 + grain) as u8,
            ]);
        }
    }
}

fn make_png(path: &Path, w: u32, h: u32, noise: bool) -> std::io::Result<PathBuf> {
    if !path.exists() {
        let file = BufWriter::new(File::create(path)?);
        let mut encoder = png::Encoder::new(file, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_compression(if noise {
            png::Compression::NoCompression
        } else {
            png::Compression::Balanced
        });
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        let mut stream = writer.stream_writer().map_err(std::io::Error::other)?;
        let (mut state, mut row) = (0x9E37_79B9_7F4A_7C15u64, Vec::new());
        for y in 0..h {
            pixel_row(y, w, h, noise, &mut state, &mut row);
            stream.write_all(&row)?;
        }
        stream.finish().map_err(std::io::Error::other)?;
    }
    Ok(path.to_path_buf())
}

fn make_jpeg(path: &Path, w: u32, h: u32) -> std::io::Result<PathBuf> {
    if !path.exists() {
        let (mut state, mut row, mut pixels) = (0x2545_F491_4F6C_DD1Du64, Vec::new(), Vec::new());
        for y in 0..h {
            pixel_row(y, w, h, false, &mut state, &mut row);
            pixels.extend_from_slice(&row);
        }
        let image = turbojpeg::Image {
            pixels: pixels.as_slice(),
            width: w as usize,
            pitch: w as usize * 3,
            height: h as usize,
            format: turbojpeg::PixelFormat::RGB,
        };
        let mut compressor = turbojpeg::Compressor::new().map_err(std::io::Error::other)?;
        compressor.set_quality(92).map_err(std::io::Error::other)?;
        let jpeg = compressor.compress_to_vec(image).map_err(std::io::Error::other)?;
        std::fs::write(path, jpeg)?;
    }
    Ok(path.to_path_buf())
}
