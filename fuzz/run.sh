#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a set time each and prints
# how many inputs each ran. Needs a nightly toolchain and cargo-fuzz
# (installed here if missing). Each target starts from its seeds in
# seeds/<target>/ and keeps what it learns in corpus/<target>/ (not
# committed). A crash stops the run and leaves its input in
# artifacts/<target>/; every crash found becomes a regression test.
#
#   fuzz/run.sh [seconds per target, default 300] [target ...]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(convert_image colour_profile decode_event feed_cursor tus_headers multipart_upload)
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz@0.13.2
# No sanitizer: the Rust code is memory-safe and runs twice as fast
# without ASan; libFuzzer still catches panics, hangs (-timeout) and
# allocations past -rss_limit_mb/-malloc_limit_mb.
cargo +nightly fuzz build -s none -O
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log="corpus/$target.log"
  cargo +nightly fuzz run -s none -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 >"$log" 2>&1 || { tail -40 "$log"; echo "== $target: CRASH (input in fuzz/artifacts/$target/)"; exit 1; }
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  peak=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "== $target: $runs runs in ${seconds}s, no crash (peak RSS ${peak} MB)"
done
