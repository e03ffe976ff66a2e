#!/usr/bin/env bash
# Apache Kafka 4 (from Maven Central) as one KRaft node on 127.0.0.1:9092,
# broker and controller in one JVM, with a fresh data directory. Its jars
# are fetched in any case (tests run brokers of their own from them); the
# node is not started when something already listens on 9092.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"

# Kafka 4 needs Java 17 or later; its jars come from Maven Central through Maven.
command -v java >/dev/null 2>&1 || need_packages openjdk-17-jre-headless
command -v mvn >/dev/null 2>&1 || need_packages maven

home="$SERVICES_DIR/kafka"
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
libs="$home/libs-$version"
if [ ! -f "$libs/.complete" ]; then
  say "Kafka $version: fetching kafka_2.13 and its dependencies from Maven Central"
  rm -rf "$libs"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs"
  touch "$libs/.complete"
fi

if port_open 9092; then
  say "Kafka: something already listens on 127.0.0.1:9092; using it"
  exit 0
fi
# A test broker's topics are the tests' own: start from nothing every time.
data="$home/data"
rm -rf "$data"
mkdir -p "$data"
sed "s|@DATA@|$data|" "$here/server.properties" >"$home/server.properties"
classpath="$libs/*"
cluster=$(java -cp "$classpath" kafka.tools.StorageTool random-uuid)
java -cp "$classpath" kafka.tools.StorageTool format --standalone \
  -t "$cluster" -c "$home/server.properties" >"$home/format.log" 2>&1 \
  || { cat "$home/format.log" >&2; fail "formatting Kafka's storage failed"; }

# Each partition keeps a few files open; tests make thousands of partitions.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
started=$(date +%s%N)
start_detached "$home/kafka.log" java -Xms256m -Xmx1g -XX:+UseG1GC \
  -Djava.awt.headless=true -Dlog4j2.configurationFile="$here/log4j2.properties" \
  -cp "$classpath" kafka.Kafka "$home/server.properties"
wait_port 9092 kafka "$home/kafka.log"
for _ in $(seq 1 300); do
  grep -q "Kafka Server started" "$home/kafka.log" && break
  sleep 0.1
done
grep -q "Kafka Server started" "$home/kafka.log" || { tail -n 40 "$home/kafka.log" >&2; fail "Kafka did not finish starting"; }
say "Kafka $version listening on 127.0.0.1:9092 after $(( ($(date +%s%N) - started) / 1000000 )) ms"
