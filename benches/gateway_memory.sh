#!/usr/bin/env bash
# Memory of a gateway per million posts: a log of 1,000,000 published posts
# (and 200,000 comments) is projected with `imagegram rebuild`, then
# `imagegram ingest` starts on it and its resident memory is read: idle
# after loading the feed, then after a load that fills every feed cache
# (first pages taken while comments move posts, so snapshots pile up, and
# walks deep into the feed, so post views and rendered items fill).
#
#   benches/gateway_memory.sh [posts] [feed-memory-mib]
set -euo pipefail
cd "$(dirname "$0")/.."
POSTS=${1:-1000000}
FEED_MIB=${2:-384}
WORK=$(mktemp -d)
PORT=18093
trap 'kill $APP_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
APP_PID=

cargo build --release -q
cargo build --release -q -p imagegram-testkit --example fill_log
BIN=target/release/imagegram
rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$1/status"; }

started=$(date +%s)
target/release/examples/fill_log "$WORK/data" "$POSTS" $(( POSTS / 5 )) >/dev/null
"$BIN" --data-dir "$WORK/data" --log-filter warn rebuild >/dev/null 2>&1
echo "filled and projected $POSTS posts in $(( $(date +%s) - started )) s"

"$BIN" --data-dir "$WORK/data" --log-filter warn ingest --listen "127.0.0.1:$PORT" \
  --reads-per-minute 0 --comments-per-minute 0 --feed-memory-mib "$FEED_MIB" >"$WORK/app.log" 2>&1 &
APP_PID=$!
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done
idle=$(rss $APP_PID)
TOKEN=$("$BIN" --data-dir "$WORK/data" token bench)

# Snapshots: first pages, each after a comment moved a post.
python3 - "$PORT" "$TOKEN" <<'PY'
import json, sys, urllib.request, random, time
port, token = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
def get(path):
    with urllib.request.urlopen(base + path) as r:
        return json.load(r)
first = get("/v1/posts?limit=100")
ids = [i["id"] for i in first["items"]]
deadline = time.time() + 60
snapshots = 0
while time.time() < deadline:
    post = random.choice(ids)
    req = urllib.request.Request(f"{base}/v1/posts/{post}/comments", method="POST",
        data=json.dumps({"content": "memory"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
    time.sleep(0.26)  # past the snapshot-sharing window: each first page is a new snapshot
    get("/v1/posts?limit=20")
    snapshots += 1
# Walks deep into the feed: views and rendered items.
walked = 0
cursor = None
while walked < 200_000:
    page = get("/v1/posts?limit=100" + (f"&cursor={cursor}" if cursor else ""))
    walked += len(page["items"])
    cursor = page["next_cursor"]
    if not cursor:
        break
print(f"{snapshots} snapshots taken, {walked} posts walked", file=sys.stderr)
PY
loaded=$(rss $APP_PID)
echo
echo "| posts | feed caches | gateway RSS idle | after filling the caches |"
echo "|---|---|---|---|"
echo "| $POSTS | $FEED_MIB MiB | $idle MiB | $loaded MiB |"
