//! This process's peak resident memory, for the tests that bound it (each
//! test binary runs its tests in processes of their own under nextest).

#![allow(dead_code)] // not every test binary uses both

/// Peak resident memory since the last reset, in MiB (Linux's VmHWM).
pub fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// Forgets the peak so far (writing 5 to clear_refs resets VmHWM).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
