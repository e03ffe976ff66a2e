#!/usr/bin/env bash
# MariaDB for the tests on 127.0.0.1:3306: Debian's mariadb-server,
# installed and started if it is not running, with a user `imagegram`
# (password `imagegram`) that may create the tests' databases. Databases
# left by earlier test runs (imagegram_test_<unix seconds>_*) are dropped
# once six hours old: a suite still running beside this one keeps its own.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if ! port_open 3306; then
  need_packages mariadb-server
  as_root mkdir -p /run/mysqld
  as_root chown mysql: /run/mysqld
  log="$SERVICES_DIR/mariadb.log"
  as_root touch "$log"
  as_root chown mysql: "$log"
  start_detached "$SERVICES_DIR/mariadbd.out" "${ROOT[@]}" /usr/sbin/mariadbd --user=mysql \
    --bind-address=127.0.0.1 --port=3306 --log-error="$log"
  wait_port 3306 mariadb "$log"
  say "MariaDB listening on 127.0.0.1:3306"
fi

# As the database's root, through its socket (Debian's root has no password).
as_root mariadb -u root <<'SQL'
CREATE USER IF NOT EXISTS 'imagegram'@'localhost' IDENTIFIED BY 'imagegram';
CREATE USER IF NOT EXISTS 'imagegram'@'127.0.0.1' IDENTIFIED BY 'imagegram';
GRANT ALL PRIVILEGES ON *.* TO 'imagegram'@'localhost';
GRANT ALL PRIVILEGES ON *.* TO 'imagegram'@'127.0.0.1';
CREATE DATABASE IF NOT EXISTS imagegram;
SQL
stale_before=$(( $(date +%s) - 6 * 3600 ))
as_root mariadb -u root -N -e \
  "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'imagegram\_test\_%'" \
  | while read -r db; do
      created=$(sed -n 's/^imagegram_test_\([0-9]\{1,\}\)_.*/\1/p' <<<"$db")
      # Names without a time come from before it was recorded: stale too.
      if [ -z "$created" ] || [ "$created" -lt "$stale_before" ]; then
        as_root mariadb -u root -e "DROP DATABASE \`$db\`"
      fi
    done
