#!/usr/bin/env bash
# Upload to published through the whole service (`POST /v1/posts?wait=60`
# on loopback, an idle server) against a bare `vipsthumbnail --size 600x600
# --smartcrop centre` of the same file, each a whole process, in one run,
# for a 12 MP JPEG, a 24 MP PNG and a 100 MB PNG that it makes itself.
# Best of three rounds each; the ratio is the service's time over vips's.
# Needs: a release build, curl, python3, vips and vipsthumbnail.
#
#   bash benches/publish_vs_vipsthumbnail.sh
set -euo pipefail
cd "$(dirname "$0")/.."
APP_PORT=18092
ROUNDS=${ROUNDS:-3}

. benches/serve.sh
bench_work publish
start_imagegram "$APP_PORT"

# A photograph-like 12 MP JPEG and 24 MP PNG (gradients and grain), and
# the largest original a post takes.
photo_jpeg "$WORK/12mp.jpg"
photo_png "$WORK/24mp.png" 6000 4000 6
noise_png "$WORK/100mb.png"

now() { date +%s.%N; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
echo
echo "| image | file | whole service | vipsthumbnail | ratio |"
echo "|---|---|---|---|---|"
for image in 12mp.jpg 24mp.png 100mb.png; do
  service=(); vips_s=()
  for round in $(seq 1 "$ROUNDS"); do
    t=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
      -F caption="$image $round" -F image=@"$WORK/$image" "http://127.0.0.1:$APP_PORT/v1/posts?wait=60")
    service+=("$t")
    start=$(now)
    vipsthumbnail --size 600x600 --smartcrop centre "$WORK/$image" -o "$WORK/thumb.jpg"
    vips_s+=("$(python3 -c "print(round($(now) - $start, 3))")")
  done
  S=$(best "${service[@]}"); V=$(best "${vips_s[@]}")
  echo "| $image | $(( $(stat -c %s "$WORK/$image") / 1000000 )) MB | $S s | $V s | $(python3 -c "print(round($S / $V, 2))") |"
done

# A small post right behind large ones: four 100 MB PNGs posted one after
# another (each answered 202 once stored), then at once the 12 MP JPEG
# with ?wait=60. Small originals have a conversion lane of their own
# (processors/src/lanes.rs), so it must be published within 2x its idle time.
publish_s() {
  curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
    -F caption="$2" -F image=@"$WORK/$1" "http://127.0.0.1:$APP_PORT/v1/posts$3"
}
idle=(); behind=()
for round in $(seq 1 "$ROUNDS"); do
  sleep 3 # everything before is published
  idle+=("$(publish_s 12mp.jpg "idle $round" '?wait=60')")
  for n in 1 2 3 4; do publish_s 100mb.png "large $round.$n" '' >/dev/null; done
  behind+=("$(publish_s 12mp.jpg "behind $round" '?wait=60')")
done
I=$(best "${idle[@]}"); W=$(printf '%s\n' "${behind[@]}" | sort -g | tail -1)
echo
echo "12 MP JPEG idle, best of $ROUNDS: $I s; right after four 100 MB PNGs, worst of $ROUNDS: $W s ($(python3 -c "print(round($W / $I, 2))")x idle)"
echo "all rounds (s): idle ${idle[*]}; behind ${behind[*]}"
