#!/usr/bin/env bash
# Upload ingest against an fsync'd copy of the same file on the same disk,
# in one run: a 100 MB PNG through `POST /v1/posts` (multipart, answered
# 202 once the original is stored) and through tus in 5 MB chunks (one connection, as a client keeps it), against
# `dd … conv=fsync`. Three rounds each; the figures are MB/s (10^6 bytes).
# Needs: a release build, curl, python3, vips (for the server's seed image).
#
#   bash benches/ingest_vs_copy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
APP_PORT=18091
ROUNDS=${ROUNDS:-3}

. benches/serve.sh
bench_work ingest
start_imagegram "$APP_PORT"
BASE="http://127.0.0.1:$APP_PORT"

noise_png "$WORK/big.png"
SIZE=$(stat -c %s "$WORK/big.png")
mbps() { python3 -c "print(round($SIZE / 1e6 / $1, 1))"; }
now() { date +%s.%N; }
took() { python3 -c "print(round($2 - $1, 3))"; }

# The file through tus as a client that keeps its connection sends it:
# one creation, then PATCHes of 5 MB, each streamed from the file in
# 256 KiB reads into one buffer, as curl streams a file it uploads (a
# client that read each 5 MB whole into a fresh buffer before sending
# spent 1.4-2.4 ms of every PATCH on that alone, and held 5 MB).
# Prints the seconds from the creation to the last PATCH's answer.
tus_upload() {
  python3 - "$WORK/big.png" "$APP_PORT" "$TOKEN" "$1" <<'PY'
import base64, http.client, os, sys, time
path, port, token, caption = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
size, chunk, piece = os.path.getsize(path), 5 * 1000 * 1000, 256 * 1024
auth = {"Authorization": "Bearer " + token, "Tus-Resumable": "1.0.0"}
conn = http.client.HTTPConnection("127.0.0.1", port)
start = time.perf_counter()
conn.request("POST", "/v1/uploads", headers={**auth, "Upload-Length": str(size),
             "Upload-Metadata": "caption " + base64.b64encode(caption.encode()).decode()})
created = conn.getresponse(); created.read()
assert created.status == 201, created.status
location = created.getheader("Location")
buffer = memoryview(bytearray(piece))
with open(path, "rb") as f:
    offset = 0
    while offset < size:
        length = min(chunk, size - offset)
        conn.putrequest("PATCH", location)
        for name, value in {**auth, "Upload-Offset": str(offset), "Content-Length": str(length),
                            "Content-Type": "application/offset+octet-stream"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        sent = 0
        while sent < length:
            got = os.preadv(f.fileno(), [buffer[:min(piece, length - sent)]], offset + sent)
            assert got > 0, "the file ended early"
            conn.sock.sendall(buffer[:got])
            sent += got
        answer = conn.getresponse(); answer.read()
        assert answer.status == 204, answer.status
        offset += length
print(round(time.perf_counter() - start, 3))
PY
}

copy_s=(); post_s=(); tus_s=()
for round in $(seq 1 "$ROUNDS"); do
  start=$(now); dd if="$WORK/big.png" of="$WORK/copy.png" bs=1M conv=fsync status=none; copy_s+=("$(took "$start" "$(now)")")
  rm -f "$WORK/copy.png"

  t=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
    -F caption="round $round" -F image=@"$WORK/big.png" "$BASE/v1/posts")
  post_s+=("$t")

  sleep 2 # let the conversion run before the next timing
  tus_s+=("$(tus_upload "round $round")")
  sleep 2
done

best() { printf '%s\n' "$@" | sort -g | head -1; }
C=$(best "${copy_s[@]}"); P=$(best "${post_s[@]}"); T=$(best "${tus_s[@]}")
echo
echo "file: $SIZE bytes; best of $ROUNDS rounds"
echo "| what | s | MB/s | against the copy |"
echo "|---|---|---|---|"
echo "| dd conv=fsync (the reference) | $C | $(mbps "$C") | 1.00 |"
echo "| POST /v1/posts (multipart, 202) | $P | $(mbps "$P") | $(python3 -c "print(round($C / $P, 2))") |"
echo "| tus, 5 MB PATCHes | $T | $(mbps "$T") | $(python3 -c "print(round($C / $T, 2))") |"
echo "all rounds (s): copy ${copy_s[*]}; post ${post_s[*]}; tus ${tus_s[*]}"
