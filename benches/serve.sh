# Sourced by the benches: builds the release binary and starts
# `imagegram serve` on 127.0.0.1:$1 with its data under $WORK/data. Sets
# BIN, APP_PID (the caller's cleanup kills it), TOKEN (a bearer token for
# the user "bench") and leaves a 640x480 test image at $WORK/seed.png.
# Also: noise_png, the largest original, for the upload benchmarks;
# seed_feed, a feed's posts and comments; comment_lua, wrk's comment writes.

# A work dir for bench $1 in $WORK, removed on exit with the server and
# any other process whose pid the bench left in $WORK/*.pid.
bench_work() {
  WORK=$(mktemp -d "/tmp/imagegram-$1-bench.XXXXXX")
  trap bench_cleanup EXIT
}
bench_cleanup() {
  [ -n "${APP_PID:-}" ] && kill "$APP_PID" 2>/dev/null || true
  local pid
  for pid in "$WORK"/*.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  rm -rf "$WORK"
}

start_imagegram() {
  local port=$1
  # IMAGEGRAM_BENCH_BIN runs another build (an older one, to compare).
  BIN=${IMAGEGRAM_BENCH_BIN:-target/release/imagegram}
  [ -n "${IMAGEGRAM_BENCH_BIN:-}" ] || cargo build --release -q
  # IMAGEGRAM_BENCH_DISTRIBUTED=1: on the test services (`./x services`),
  # Kafka, MariaDB and moto's S3, with a topic prefix, database and bucket
  # of this run's own.
  if [ "${IMAGEGRAM_BENCH_DISTRIBUTED:-}" = 1 ]; then
    local run=bench$(date +%s%N)
    mysql -uimagegram -pimagegram -h127.0.0.1 -e "CREATE DATABASE $run"
    export IMAGEGRAM_EVENT_LOG=kafka IMAGEGRAM_KAFKA_BROKERS=127.0.0.1:9092 IMAGEGRAM_TOPIC_PREFIX="$run."
    export IMAGEGRAM_DATABASE_URL="mysql://imagegram:imagegram@127.0.0.1:3306/$run"
    export IMAGEGRAM_BLOB_STORE=s3 IMAGEGRAM_S3_ENDPOINT=http://127.0.0.1:9000 IMAGEGRAM_S3_BUCKET="$run"
    export IMAGEGRAM_S3_PATH_STYLE=true IMAGEGRAM_S3_ACCESS_KEY_ID=test IMAGEGRAM_S3_SECRET_ACCESS_KEY=test
  fi
  # One user and one address send everything: the rate limits and the
  # daily upload quota are off.
  "$BIN" --data-dir "$WORK/data" --log-filter warn serve --listen "127.0.0.1:$port" \
    --comments-per-minute 0 --deletes-per-minute 0 --posts-per-minute 0 \
    --uploads-per-minute 0 --reads-per-minute 0 --daily-upload-bytes 0 >"$WORK/app.log" 2>&1 &
  APP_PID=$!
  echo "$APP_PID" >"$WORK/app.pid"
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  TOKEN=$("$BIN" --data-dir "$WORK/data" token bench)
  vips xyz "$WORK/seed.png" 640 480 >/dev/null
}

# Stops the server start_imagegram started, and forgets its data, so the
# next start begins from nothing (`stop_imagegram keep`: the data stays).
stop_imagegram() {
  kill "$APP_PID" 2>/dev/null || true
  wait "$APP_PID" 2>/dev/null || true
  APP_PID=
  rm -f "$WORK/app.pid"
  [ "${1:-}" = keep ] || rm -rf "$WORK/data"
}

# Publishes $2 posts (the seed image) on the server on port $1, then adds
# $3 comments across them, skewed toward the first posts as a feed's
# comments are. The posts' ids are left in IDS, first published first.
seed_feed() {
  local port=$1 posts=$2 comments=$3 i r idx
  echo "seeding $posts posts and $comments comments"
  : >"$WORK/ids"
  for i in $(seq 1 "$posts"); do
    curl -sf -H "Authorization: Bearer $TOKEN" -F image=@"$WORK/seed.png" -F caption="post $i" \
      "http://127.0.0.1:$port/v1/posts?wait=30" | sed 's/.*"id":"\([^"]*\)".*/\1/' >>"$WORK/ids"
    echo >>"$WORK/ids"
  done
  sed -i '/^$/d' "$WORK/ids"
  mapfile -t IDS <"$WORK/ids"
  for i in $(seq 1 "$comments"); do
    # The square of a uniform draw picks early posts more often.
    r=$((RANDOM % 1000)); idx=$(( r * r * ${#IDS[@]} / 1000000 ))
    echo "${IDS[$idx]} $i"
  done | xargs -P 4 -n 2 sh -c 'curl -sf -o /dev/null -H "Authorization: Bearer '"$TOKEN"'" -H "content-type: application/json" \
    -d "{\"content\":\"comment $1\"}" "http://127.0.0.1:'"$port"'/v1/posts/$0/comments"'
  sleep 1
}

# A photograph-like PNG (gradients and grain) at $1, $2 x $3 pixels,
# deflated at level $4.
photo_png() {
  python3 - "$@" <<'PY'
import os, struct, sys, zlib
path, w, h, level = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
def row(y):
    noise = os.urandom(w * 3)
    return bytes((((x // 3) * 255 // w + y // 16 + (noise[x] & 15)) & 255) for x in range(w * 3))
raw = b"".join(b"\x00" + row(y) for y in range(h))
with open(path, "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
    f.write(chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b""))
PY
}

# A photograph-like 12 MP JPEG (4,000 x 3,000, quality 90) at $1.
photo_jpeg() {
  photo_png "$1.png" 4000 3000 1
  vips copy "$1.png" "$1[Q=90]"
  rm -f "$1.png"
}

# A PNG of noise just under 100 MB (5,700 x 5,700, 32.5 megapixels, stored
# uncompressed): the largest original a post takes, at $1.
noise_png() {
  python3 - "$1" <<'PY'
import os, struct, sys, zlib
w = h = 5700
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
raw = b"".join(b"\x00" + os.urandom(w * 3) for _ in range(h))
with open(sys.argv[1], "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
    f.write(chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))
PY
}

# A wrk script posting comments to $POST with $TOKEN. With $1 = 1 each
# request carries its own Idempotency-Key, as a retrying app client
# sends; with 0, none. wrk gives every thread
# its own Lua state with the same random sequence, so the key is built from
# a thread number handed out in setup(), never from math.random: two threads
# sending one key would be replays (one comment) or refused as in flight.
comment_lua() {
  cat <<LUA
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
local keyed = $1
request = function()
  n = n + 1
  local headers = { ["Authorization"] = "Bearer $TOKEN", ["Content-Type"] = "application/json" }
  if keyed == 1 then headers["Idempotency-Key"] = string.format("bench-%d-%d", tid, n) end
  return wrk.format("POST", "/v1/posts/$POST/comments", headers, string.format('{"content":"comment %d-%d"}', tid, n))
end
LUA
}
