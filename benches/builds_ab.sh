#!/usr/bin/env bash
# Two builds of imagegram against each other, for "nothing slower": feed
# reads (GET /v1/posts?limit=20, 32 connections, as feed_vs_nginx.sh) and
# keyed comment writes (POST with an Idempotency-Key, 32 connections, as
# writes_vs_sqlite.sh), in PAIRS pairs whose order alternates (A then B,
# then B then A), each build started on a fresh copy of one seeded data
# dir. Prints each pair and the median of B/A. Needs: two release builds,
# wrk, curl, vips (for the seed image).
#
#   A=/tmp/imagegram-before B=target/release/imagegram bash benches/builds_ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
A=${A:?A=<the build to compare against>}
B=${B:?B=<the build under test>}
POSTS=${POSTS:-200}
COMMENTS=${COMMENTS:-2000}
PAIRS=${PAIRS:-5}
DURATION=${DURATION:-10s}
APP_PORT=18095

. benches/serve.sh
bench_work ab
IMAGEGRAM_BENCH_BIN=$A start_imagegram "$APP_PORT"
seed_feed "$APP_PORT" "$POSTS" "$COMMENTS"
stop_imagegram keep
mv "$WORK/data" "$WORK/seeded"
POST=${IDS[0]}

comment_lua 1 >"$WORK/keyed.lua"

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }

# Feed reads/s and keyed writes/s of build $1, on a fresh copy of the seed.
measure() {
  rm -rf "$WORK/data"
  cp -a "$WORK/seeded" "$WORK/data"
  IMAGEGRAM_BENCH_BIN=$1 start_imagegram "$APP_PORT"
  curl -sf -o /dev/null "http://127.0.0.1:$APP_PORT/v1/posts?limit=20"
  local feed writes
  feed=$(wrk -t2 -c32 -d"$DURATION" "http://127.0.0.1:$APP_PORT/v1/posts?limit=20" | rps)
  writes=$(wrk -t2 -c32 -d"$DURATION" -s "$WORK/keyed.lua" "http://127.0.0.1:$APP_PORT/" | rps)
  stop_imagegram
  echo "$feed $writes"
}

median() { sort -g | python3 -c "import sys; v = [float(x) for x in sys.stdin]; n = len(v); print(round(v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2, 3))"; }

echo
echo "| pair | order | A feed/s | B feed/s | B/A | A keyed writes/s | B keyed writes/s | B/A |"
echo "|---|---|---|---|---|---|---|---|"
feed_ratios=(); write_ratios=()
for pair in $(seq 1 "$PAIRS"); do
  if [ $((pair % 2)) = 1 ]; then order="A, B"; ra=$(measure "$A"); rb=$(measure "$B")
  else order="B, A"; rb=$(measure "$B"); ra=$(measure "$A"); fi
  read -r fa wa <<<"$ra"; read -r fb wb <<<"$rb"
  fr=$(python3 -c "print(round($fb / $fa, 3))"); wr=$(python3 -c "print(round($wb / $wa, 3))")
  feed_ratios+=("$fr"); write_ratios+=("$wr")
  echo "| $pair | $order | $fa | $fb | $fr | $wa | $wb | $wr |"
done
echo
echo "feed B/A, median of $PAIRS pairs: $(printf '%s\n' "${feed_ratios[@]}" | median)"
echo "keyed writes B/A, median of $PAIRS pairs: $(printf '%s\n' "${write_ratios[@]}" | median)"
