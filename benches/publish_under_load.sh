#!/usr/bin/env bash
# Upload to published of a 12 MP JPEG (`POST /v1/posts?wait=60`) on an
# idle server, then under a steady mixed load at 10x the brief's forecast
# (10,000 uploads and 1,000,000 comments an hour, and 1,000 feed reads a
# second: ten times its 100 requests/s), in one run. The load's uploads
# are the same JPEG. 30 timed posts each way, one every 0.5 s; the
# figure is the p99 (with 30 samples, the slowest).
# Needs: a release build, curl, python3, vips.
#
#   bash benches/publish_under_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
APP_PORT=18093
SAMPLES=${SAMPLES:-30}

. benches/serve.sh
bench_work load
start_imagegram "$APP_PORT"
photo_jpeg "$WORK/12mp.jpg"
POST=$(curl -sf -H "Authorization: Bearer $TOKEN" -F image=@"$WORK/seed.png" -F caption=load \
  "http://127.0.0.1:$APP_PORT/v1/posts?wait=30" | sed 's/.*"id":"\([^"]*\)".*/\1/')

python3 - "$APP_PORT" "$TOKEN" "$POST" "$WORK/12mp.jpg" "$SAMPLES" <<'PY'
import http.client, json, sys, threading, time, uuid
port, token, post, photo, samples = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
auth = {"Authorization": "Bearer " + token}
image = open(photo, "rb").read()

def multipart(caption):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n{caption}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return body, {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}

def publish(conn, caption, wait):
    body, headers = multipart(caption)
    start = time.perf_counter()
    conn.request("POST", "/v1/posts" + ("?wait=60" if wait else ""), body=body, headers=headers)
    answer = conn.getresponse(); answer.read()
    assert answer.status in (201, 202), answer.status
    return time.perf_counter() - start

def timed(label):
    conn, took = http.client.HTTPConnection("127.0.0.1", port, timeout=60), []
    for n in range(samples):
        began = time.perf_counter()
        took.append(publish(conn, f"{label} {n}", True))
        time.sleep(max(0, 0.5 - (time.perf_counter() - began)))
    took.sort()
    return took

# Each sender keeps its own connection and holds its rate; refusals count.
sent, refused, stop = {}, {}, threading.Event()
def sender(name, per_second, make):
    conn, n, start = http.client.HTTPConnection("127.0.0.1", port, timeout=60), 0, time.perf_counter()
    while not stop.is_set():
        n += 1
        method, path, body, headers = make(n)
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse(); answer.read()
        sent[name] = sent.get(name, 0) + 1
        if answer.status >= 300:
            refused[name] = refused.get(name, 0) + 1
        time.sleep(max(0, start + n / per_second - time.perf_counter()))

comment = lambda n: ("POST", f"/v1/posts/{post}/comments", json.dumps({"content": f"load {n}"}),
                     {**auth, "Content-Type": "application/json"})
feed = lambda n: ("GET", "/v1/posts?limit=10", None, {})
def upload(n):
    body, headers = multipart(f"load {n}")
    return ("POST", "/v1/posts", body, headers)

idle = timed("idle")
senders = [("uploads", 10000 / 3600, upload)] + [("comments", 1e6 / 3600 / 4, comment)] * 4 + [("feed", 1000 / 8, feed)] * 8
threads = [threading.Thread(target=sender, args=s, daemon=True) for s in senders]
for t in threads: t.start()
time.sleep(3)  # the load settles
began = time.perf_counter()
loaded = timed("loaded")
stop.set()
for t in threads: t.join(timeout=60)
elapsed = time.perf_counter() - began + 3
p = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))]
print("load sent:", ", ".join(f"{k} {v / elapsed:.0f}/s" for k, v in sorted(sent.items())), "; refused:", refused or "none")
print("| 12 MP JPEG, upload to published | p50 | p99 | max |")
print("|---|---|---|---|")
for name, xs in (("idle", idle), ("under 10x load", loaded)):
    print(f"| {name} | {p(xs, .5):.3f} s | {p(xs, .99):.3f} s | {xs[-1]:.3f} s |")
print(f"p99 under load / idle: {p(loaded, .99) / p(idle, .99):.2f}")
PY
