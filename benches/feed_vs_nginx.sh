#!/usr/bin/env bash
# Feed requests/s against nginx serving a static file of the same size, in
# one run on this machine, with wrk. Also the feed's latency at a held rate
# of about 1,000 requests/s (10 connections, each waiting 10 ms between
# requests). Then the same page compressed: imagegram with gzip against
# nginx with `gzip on` (level 1, compressing every request), and the bytes
# of a page of 20 in each encoding. Needs: a release build, nginx, wrk,
# vips (for a test image).
#
#   bash benches/feed_vs_nginx.sh            # 200 posts, 2,000 comments
set -euo pipefail
cd "$(dirname "$0")/.."
POSTS=${POSTS:-200}
COMMENTS=${COMMENTS:-2000}
DURATION=${DURATION:-10s}
APP_PORT=18080
NGINX_PORT=18081

. benches/serve.sh
bench_work feed
start_imagegram "$APP_PORT"
seed_feed "$APP_PORT" "$POSTS" "$COMMENTS"

curl -sf "http://127.0.0.1:$APP_PORT/v1/posts?limit=20" -o "$WORK/page.json"
SIZE=$(stat -c %s "$WORK/page.json")
mkdir -p "$WORK/www"
cp "$WORK/page.json" "$WORK/www/page.json"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/www;
    gzip on;
    gzip_types application/json;
    gzip_min_length 32;
    location / { default_type application/json; }
  }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK"
sleep 0.5

echo 'request = function() return wrk.format("GET") end
delay = function() return 10 end' >"$WORK/paced.lua"

# Append-to-visible: a comment posted, then the feed polled until the
# post's count shows it; 200 times, on an otherwise idle server.
VISIBLE=$(python3 - "$APP_PORT" "$TOKEN" "${IDS[0]}" <<'PY'
import json, sys, time, urllib.request
port, token, post = sys.argv[1], sys.argv[2], sys.argv[3]
base = f"http://127.0.0.1:{port}"
def count():
    with urllib.request.urlopen(f"{base}/v1/posts?limit=100") as r:
        for item in json.load(r)["items"]:
            if item["id"] == post:
                return item["comment_count"]
    return None
samples = []
for i in range(200):
    before = count()
    req = urllib.request.Request(f"{base}/v1/posts/{post}/comments", data=json.dumps({"content": f"visible {i}"}).encode(),
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"})
    start = time.perf_counter()
    urllib.request.urlopen(req).read()
    while count() == before:
        pass
    samples.append((time.perf_counter() - start) * 1000)
samples.sort()
print(f"median {samples[len(samples)//2]:.1f} ms, p99 {samples[int(len(samples)*0.99)-1]:.1f} ms, max {samples[-1]:.1f} ms")
PY
)

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
p99() { sed -n 's/^ *99% *\(.*\)$/\1/p'; }
echo "first feed page: $SIZE bytes"
FEED=$(wrk -t2 -c32 -d"$DURATION" --latency "http://127.0.0.1:$APP_PORT/v1/posts?limit=20")
NGINX=$(wrk -t2 -c32 -d"$DURATION" --latency "http://127.0.0.1:$NGINX_PORT/page.json")
PACED=$(wrk -t2 -c10 -d"$DURATION" --latency -s "$WORK/paced.lua" "http://127.0.0.1:$APP_PORT/v1/posts?limit=20")
GZ=(-H "Accept-Encoding: gzip")
FEED_GZ=$(wrk -t2 -c32 -d"$DURATION" --latency "${GZ[@]}" "http://127.0.0.1:$APP_PORT/v1/posts?limit=20")
NGINX_GZ=$(wrk -t2 -c32 -d"$DURATION" --latency "${GZ[@]}" "http://127.0.0.1:$NGINX_PORT/page.json")
F=$(echo "$FEED" | rps); N=$(echo "$NGINX" | rps); P=$(echo "$PACED" | rps)
FG=$(echo "$FEED_GZ" | rps); NG=$(echo "$NGINX_GZ" | rps)
bytes_as() { curl -sf -H "Accept-Encoding: $1" "http://127.0.0.1:$APP_PORT/v1/posts?limit=20" | wc -c; }
echo
echo "| what | requests/s | p99 |"
echo "|---|---|---|"
echo "| imagegram GET /v1/posts?limit=20, 32 connections | $F | $(echo "$FEED" | p99) |"
echo "| nginx, static file of $SIZE bytes, 32 connections | $N | $(echo "$NGINX" | p99) |"
echo "| imagegram GET /v1/posts?limit=20, paced | $P | $(echo "$PACED" | p99) |"
echo "| imagegram, Accept-Encoding: gzip, 32 connections | $FG | $(echo "$FEED_GZ" | p99) |"
echo "| nginx gzip on, Accept-Encoding: gzip, 32 connections | $NG | $(echo "$NGINX_GZ" | p99) |"
echo
echo "feed / nginx: $(python3 -c "print(round($F / $N, 2))")"
echo "feed gzip / nginx gzip: $(python3 -c "print(round($FG / $NG, 2))")"
echo "a page of 20: identity $SIZE B, gzip $(bytes_as gzip) B, br $(bytes_as br) B, zstd $(bytes_as zstd) B"
echo "comment appended → visible in the feed: $VISIBLE"
