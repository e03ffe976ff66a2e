//! The services a test needs (Kafka, MariaDB, moto's S3, a Kafka
//! distribution, Prometheus, Chromium, Node modules), found from the
//! settings `./x services` prints, and what happens when one is missing.
//!
//! Under `./x test` (which exports `IMAGEGRAM_TEST_REQUIRE_SERVICES=1`
//! once it has started them all) and in CI (`CI=true`), a test that cannot
//! find its service fails, naming the service and the setting: a green
//! run means every test ran. Elsewhere (a plain `cargo test`) it returns
//! early, says so on stderr and, when `IMAGEGRAM_TEST_SKIP_LOG` names a
//! file, adds a line to it for a summary.

use std::io::Write;

/// Whether a missing service fails the test.
pub fn required() -> bool {
    let on = |name: &str| std::env::var(name).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    on("IMAGEGRAM_TEST_REQUIRE_SERVICES") || on("CI")
}

/// The running test's name (the test harness names each test's thread).
fn test_name() -> String {
    std::thread::current()
        .name()
        .map_or_else(|| "a test".to_owned(), str::to_owned)
}

/// This test cannot run without `what`; `remedy` says which setting or
/// step provides it. Fails the test when services are required (see the
/// module); otherwise notes the skip and returns, for the test to end.
#[track_caller]
pub fn skip(what: &str, remedy: &str) {
    skip_test(&test_name(), what, remedy);
}

/// [`skip`] for the test named `test` (for code off the test's thread).
#[track_caller]
pub fn skip_test(test: &str, what: &str, remedy: &str) {
    if required() {
        panic!(
            "{test} needs {what}, and did not find it: {remedy} \
             (a missing service fails tests under ./x test and CI)"
        );
    }
    eprintln!("skipped {test}: no {what} ({remedy})");
    if let Ok(path) = std::env::var("IMAGEGRAM_TEST_SKIP_LOG") {
        let line = format!("{test}\t{what}\n");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut log| log.write_all(line.as_bytes()));
        if let Err(e) = written {
            eprintln!("could not note the skip in {path}: {e}");
        }
    }
}

/// The value of the setting `name`, which names `what`; when it is unset
/// or empty, [`skip`] and `None`.
#[track_caller]
pub fn service(name: &str, what: &str) -> Option<String> {
    service_for(&test_name(), name, what)
}

/// [`service`] for the test named `test` (for code off the test's thread).
#[track_caller]
pub fn service_for(test: &str, name: &str, what: &str) -> Option<String> {
    let value = std::env::var(name).ok().filter(|v| !v.is_empty());
    if value.is_none() {
        skip_test(
            test,
            what,
            &format!("{name} is not set; ./x services starts it and prints the setting"),
        );
    }
    value
}
