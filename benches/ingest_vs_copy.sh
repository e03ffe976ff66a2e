#!/usr/bin/env bash
# Upload ingest against an fsync'd copy of the same file on the same disk,
# in one run: a 100 MB PNG through `POST /v1/posts` (multipart, answered
# 202 once the original is stored) and through tus in 5 MB chunks, against
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

copy_s=(); post_s=(); tus_s=()
for round in $(seq 1 "$ROUNDS"); do
  start=$(now); dd if="$WORK/big.png" of="$WORK/copy.png" bs=1M conv=fsync status=none; copy_s+=("$(took "$start" "$(now)")")
  rm -f "$WORK/copy.png"

  t=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
    -F caption="round $round" -F image=@"$WORK/big.png" "$BASE/v1/posts")
  post_s+=("$t")

  start=$(now)
  location=$(curl -sf -D - -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H "Tus-Resumable: 1.0.0" \
    -H "Upload-Length: $SIZE" -H "Upload-Metadata: caption $(printf 'tus %s' "$round" | base64 -w0)" \
    "$BASE/v1/uploads" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  offset=0; chunk=$((5 * 1000 * 1000))
  while [ "$offset" -lt "$SIZE" ]; do
    n=$(( SIZE - offset < chunk ? SIZE - offset : chunk ))
    dd if="$WORK/big.png" bs=1M iflag=skip_bytes,count_bytes skip="$offset" count="$n" status=none |
      curl -sf -o /dev/null -X PATCH \
      -H "Authorization: Bearer $TOKEN" -H "Tus-Resumable: 1.0.0" -H "Upload-Offset: $offset" \
      -H "Content-Type: application/offset+octet-stream" --data-binary @- "$BASE$location"
    offset=$((offset + n))
  done
  tus_s+=("$(took "$start" "$(now)")")
  sleep 2 # let the conversions of this round run before the next timings
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
