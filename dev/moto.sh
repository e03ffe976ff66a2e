#!/usr/bin/env bash
# moto's S3 server for the tests on 127.0.0.1:9000, installed with pip into
# a virtual environment of its own if it is missing. moto before 5.2.5
# answers CompleteMultipartUpload with the wrong XML root (moto issue
# 10055), which the AWS SDK rejects.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MOTO_VERSION=5.2.5

if port_open 9000; then
  say "moto: something already listens on 127.0.0.1:9000; using it"
  exit 0
fi
venv="$SERVICES_DIR/moto-$MOTO_VERSION"
if [ ! -x "$venv/bin/moto_server" ]; then
  say "moto $MOTO_VERSION: installing with pip into $venv"
  python3 -m venv "$venv" 2>/dev/null || { need_packages python3-venv; rm -rf "$venv"; python3 -m venv "$venv"; }
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
start_detached "$SERVICES_DIR/moto.log" "$venv/bin/moto_server" -H 127.0.0.1 -p 9000
wait_port 9000 moto "$SERVICES_DIR/moto.log"
say "moto $MOTO_VERSION (S3) listening on 127.0.0.1:9000"
