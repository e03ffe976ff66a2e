#!/usr/bin/env bash
# Colour and bytes against vipsthumbnail, in one run on this machine:
# the colour corpus (wide gamut, gAMA/cHRM, CMYK) with PSNR, SSIMULACRA2
# and bytes for each, and the JPEG encoders alone on 600x600 sources made
# from real photographs. The photographs are the sample pictures that
# scikit-image and matplotlib ship in their wheels, fetched from PyPI
# (pip download, no install) into ~/.cache/imagegram/photos once.
# Then how long Chromium takes to decode each side's files
# (benches/decode_in_chromium.mjs).
# Needs: vipsthumbnail (libvips-tools), python3 with pip, unzip, chromium,
# node (playwright-core from tests/web).
#
#   bash benches/pictures_vs_vipsthumbnail.sh [more photos or folders ...]
set -euo pipefail
cd "$(dirname "$0")/.."
source dev/lib.sh
need_packages libvips-tools unzip chromium
PHOTOS="$SERVICES_DIR/photos"
if [ ! -f "$PHOTOS/.complete" ]; then
  wheels=$(mktemp -d)
  trap 'rm -rf "$wheels"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels" \
    "scikit-image==0.26.0" "matplotlib==3.11.2"
  mkdir -p "$PHOTOS"
  # The photographs among their sample data (not drawings, text or
  # microscope greys).
  unzip -o -q -j "$wheels"/scikit_image-*.whl -d "$PHOTOS" \
    'skimage/data/astronaut.png' 'skimage/data/motorcycle_left.png' 'skimage/data/hubble_deep_field.jpg' \
    'skimage/data/coffee.png' 'skimage/data/retina.jpg' 'skimage/data/chelsea.png' 'skimage/data/rocket.jpg' \
    'skimage/data/ihc.png'
  unzip -o -q -j "$wheels"/matplotlib-*.whl -d "$PHOTOS" 'matplotlib/mpl-data/sample_data/grace_hopper.jpg'
  touch "$PHOTOS/.complete"
fi
[ -d tests/web/node_modules/playwright-core ] || npm ci --silent --prefix tests/web
KEPT=$(mktemp -d)
trap 'rm -rf "$KEPT"' EXIT
PICTURES_OUT="$KEPT" cargo bench --locked -p imagegram-processors --bench pictures_vs_vipsthumbnail -- "$PHOTOS" "$@"
echo
echo "## Decoding in Chromium (createImageBitmap), the encoders-alone files"
echo
node benches/decode_in_chromium.mjs "$KEPT/vipsthumbnail" "$KEPT/imagegram"
