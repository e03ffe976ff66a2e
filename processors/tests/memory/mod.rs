//! This process's peak resident memory, for the tests that bound it (each
//! test binary runs its tests in processes of their own under nextest).

#![allow(dead_code)] // not every test binary uses both

/// Peak resident memory since the last reset, in MiB (Linux's VmHWM).
/// Fails the test when it cannot be read: a bound on memory that could
/// not be measured must not pass.
pub fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("peak memory from /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .expect("a VmHWM line in /proc/self/status")
}

/// Forgets the peak so far (writing 5 to clear_refs resets VmHWM); fails
/// the test when it cannot, since the next peak would then be stale.
pub fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak through /proc/self/clear_refs");
}
