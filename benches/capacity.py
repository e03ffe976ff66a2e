#!/usr/bin/env python3
"""A capacity model, measured: the CPU each role spends per operation in
the distributed mode (Kafka, MariaDB, S3), each role loaded alone, and the
machines a load needs.

  ./x services > /tmp/services.out && source <(grep '^export' /tmp/services.out)
  python3 benches/capacity.py

Needs a release build (it makes one), wrk and vips (apt-get install wrk
libvips-tools). Every process runs on 127.0.0.1 against the services the
tests use, under a topic prefix, bucket and database of its own.

CPU is read from /proc/<pid>/stat (user + system time) of the one role
under load, so load generators and the other roles do not count:
  - gateway: comment writes and feed reads with wrk (10 s each), uploads of
    each image kind with curl; the converter and projector are stopped;
  - projector: started alone on the comments and posts the gateway
    appended, until they are all in the read model;
  - converter: started alone on a backlog of uploads of one image kind,
    until all are published.
Then two converter processes, each pinned to a core of its own, against
one, on the same backlog: images a second.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/imagegram")
TICK = os.sysconf("SC_CLK_TCK")
PORT = 18094
BASE = f"http://127.0.0.1:{PORT}"

# The brief's forecast (1x): uploads and comments an hour, and the
# request rate every call but an upload must hold.
FORECAST = {"uploads/s": 1000 / 3600, "comments/s": 100000 / 3600, "feed reads/s": 100}
CORES_PER_MACHINE = 2  # this machine
TARGET_UTILISATION = 0.7


def need(name):
    if shutil.which(name) is None:
        sys.exit(f"{name} is not installed (apt-get install wrk libvips-tools)")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def http(method, path, body=None, headers=None, timeout=120):
    request = urllib.request.Request(BASE + path, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read()
        return response.status, (json.loads(text) if text else None)


class Deployment:
    def __init__(self, work):
        self.work = work
        run = uuid.uuid4().hex[:12]
        mysql = os.environ["IMAGEGRAM_TEST_MYSQL_URL"]
        database = f"imagegram_capacity_{run}"
        subprocess.run(
            ["mariadb", "-h127.0.0.1", "-uimagegram", "-pimagegram", "-e", f"CREATE DATABASE {database}"],
            check=True,
        )
        self.env = dict(os.environ)
        for key in [k for k in self.env if k.startswith("IMAGEGRAM_") and not k.startswith("IMAGEGRAM_TEST_")]:
            del self.env[key]
        self.env.update({
            "IMAGEGRAM_LOG_FILTER": "warn",
            "IMAGEGRAM_EVENT_LOG": "kafka",
            "IMAGEGRAM_KAFKA_BROKERS": os.environ["IMAGEGRAM_TEST_KAFKA_BROKERS"],
            "IMAGEGRAM_TOPIC_PREFIX": f"cap{run}.",
            "IMAGEGRAM_BLOB_STORE": "s3",
            "IMAGEGRAM_S3_ENDPOINT": os.environ["IMAGEGRAM_TEST_S3_ENDPOINT"],
            "IMAGEGRAM_S3_BUCKET": f"imagegram-cap-{run}",
            "IMAGEGRAM_S3_PATH_STYLE": "true",
            "IMAGEGRAM_S3_ACCESS_KEY_ID": "test",
            "IMAGEGRAM_S3_SECRET_ACCESS_KEY": "test",
            "IMAGEGRAM_DATABASE_URL": mysql.rsplit("/", 1)[0] + "/" + database,
            "IMAGEGRAM_JWT_SECRET": f"capacity-benchmark-secret-{run}",
        })
        for limit in ["COMMENTS", "DELETES", "POSTS", "UPLOADS", "READS"]:
            self.env[f"IMAGEGRAM_{limit}_PER_MINUTE"] = "0"
        self.env["IMAGEGRAM_DAILY_UPLOAD_BYTES"] = "0"
        self.env["IMAGEGRAM_MAX_OPEN_UPLOADS"] = "0"
        self.processes = []

    def start(self, role, *args, cpus=None, extra_env=None):
        data = tempfile.mkdtemp(dir=self.work)
        command = [BIN, "--data-dir", data, role, *args]
        if cpus is not None:
            command = ["taskset", "-c", cpus, *command]
        env = dict(self.env, **(extra_env or {}))
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE if role == "ingest" else subprocess.DEVNULL)
        if role == "ingest":
            process.stdout.readline()  # "imagegram listening on …"
        self.processes.append(process)
        return process

    def stop(self, process):
        process.terminate()
        process.wait(timeout=15)
        self.processes.remove(process)

    def stop_all(self):
        for process in list(self.processes):
            self.stop(process)

    def token(self, user):
        out = subprocess.run([BIN, "token", user], env=self.env, check=True, capture_output=True, text=True)
        return out.stdout.strip()


def multipart(path, caption):
    boundary = uuid.uuid4().hex
    with open(path, "rb") as f:
        image = f.read()
    name = os.path.basename(path)
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n{caption}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(token, path, wait=False):
    body, headers = multipart(path, "capacity")
    headers["Authorization"] = f"Bearer {token}"
    status, post = http("POST", "/v1/posts" + ("?wait=60" if wait else ""), body, headers)
    assert status in (201, 202), status
    return post["id"]


def wait_until(check, patience=600):
    deadline = time.time() + patience
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.05)
    sys.exit("gave up waiting")


def published(ids):
    def check():
        return all(http("GET", f"/v1/posts/{i}")[1]["status"] in ("published", "failed") for i in ids)
    return check


def completion_times(ids, patience=600):
    """When each post was first seen published (or failed)."""
    done = {}
    deadline = time.time() + patience
    while len(done) < len(ids) and time.time() < deadline:
        for i in ids:
            if i not in done and http("GET", f"/v1/posts/{i}")[1]["status"] in ("published", "failed"):
                done[i] = time.time()
        time.sleep(0.05)
    if len(done) < len(ids):
        sys.exit("gave up waiting")
    return list(done.values())


def mariadb_pid():
    out = subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def wrk(path, seconds, script=None, connections=16):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", script]
    out = subprocess.run(command + [BASE + path], check=True, capture_output=True, text=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return requests - (int(non2xx.group(1)) if non2xx else 0)


def images(work):
    """(kind, path, bytes): what people post, made with vips."""
    made = []
    noise = os.path.join(work, "noise.v")
    for kind, (w, h), suffix in [
        ("640x480 PNG", (640, 480), ".png"),
        ("12 MP JPEG", (4000, 3000), ".jpg[Q=90]"),
        ("24 MP PNG", (6000, 4000), ".png[compression=1]"),
    ]:
        path = os.path.join(work, kind.replace(" ", "_")) + suffix.split("[")[0]
        subprocess.run(["vips", "gaussnoise", noise, str(w), str(h), "--sigma", "40", "--mean", "128"], check=True)
        rgb = os.path.join(work, "rgb.v")
        subprocess.run(["vips", "bandjoin", f"{noise} {noise} {noise}", rgb], check=True)
        subprocess.run(["vips", "cast", rgb, path + suffix[len(suffix.split("[")[0]):], "uchar"], check=True)
        made.append((kind, path, os.path.getsize(path)))
    return made


def smooth_png(work):
    """A 6000x4000 PNG of soft waves: 24 MP that compress well."""
    waves, path = os.path.join(work, "sines.v"), os.path.join(work, "smooth.png")
    subprocess.run(["vips", "sines", waves, "6000", "4000", "--hfreq", "3", "--vfreq", "2"], check=True)
    scaled = os.path.join(work, "scaled.v")
    subprocess.run(["vips", "linear", waves, scaled, "100", "128"], check=True)
    rgb = os.path.join(work, "smooth_rgb.v")
    subprocess.run(["vips", "bandjoin", f"{scaled} {scaled} {scaled}", rgb], check=True)
    subprocess.run(["vips", "cast", rgb, path, "uchar"], check=True)
    return path


def main():
    need("wrk")
    need("vips")
    for var in ["IMAGEGRAM_TEST_KAFKA_BROKERS", "IMAGEGRAM_TEST_S3_ENDPOINT", "IMAGEGRAM_TEST_MYSQL_URL"]:
        if not os.environ.get(var):
            sys.exit(f"{var} is not set: run ./x services and source its output")
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp()
    d = Deployment(work)
    try:
        run(d, work)
    finally:
        d.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def run(d, work):
    kinds = images(work)
    token = d.token("capacity")
    gateway = d.start("ingest", "--listen", f"127.0.0.1:{PORT}")
    converter = d.start("process")
    projector = d.start("project")
    seed = upload(token, kinds[0][1], wait=True)
    d.stop(converter)
    d.stop(projector)
    cost = {}  # (role, operation) -> CPU ms

    # The gateway alone.
    script = os.path.join(work, "comment.lua")
    with open(script, "w") as f:
        f.write(
            'wrk.method = "POST"\n'
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            'wrk.body = \'{"content":"capacity"}\'\n'
        )
    before = cpu_seconds(gateway.pid)
    comments = wrk(f"/v1/posts/{seed}/comments", 10, script)
    cost[("gateway", "comment")] = (cpu_seconds(gateway.pid) - before) * 1000 / comments
    before = cpu_seconds(gateway.pid)
    reads = wrk("/v1/posts?limit=20", 10)
    cost[("gateway", "feed read")] = (cpu_seconds(gateway.pid) - before) * 1000 / reads
    # The projector alone, on the comments the gateway appended.
    projected = http("GET", f"/v1/posts/{seed}")[1]["comment_count"]
    projector = d.start("project")
    database = mariadb_pid()
    before = cpu_seconds(projector.pid)
    database_before = cpu_seconds(database) if database else 0
    wait_until(lambda: http("GET", f"/v1/posts/{seed}")[1]["comment_count"] >= projected + comments)
    cost[("projector", "comment")] = (cpu_seconds(projector.pid) - before) * 1000 / comments
    if database:
        cost[("MariaDB, for the projector", "comment")] = (cpu_seconds(database) - database_before) * 1000 / comments

    # Uploads of each kind: the gateway's part while no converter runs,
    # then the converter's, started alone on that backlog.
    for kind, path, _ in kinds:
        before = cpu_seconds(gateway.pid)
        backlog = [upload(token, path) for _ in range(8)]
        cost[("gateway", f"upload, {kind}")] = (cpu_seconds(gateway.pid) - before) * 1000 / 8
        converter = d.start("process")
        before = cpu_seconds(converter.pid)
        wait_until(published(backlog))
        cost[("converter", f"upload, {kind}")] = (cpu_seconds(converter.pid) - before) * 1000 / len(backlog)
        d.stop(converter)

    # Scale-out: one converter on one core, then two, each on its own. The
    # image is a smooth 24 MP PNG: decoding it costs the converter, while
    # serving it costs the S3 server (moto, in Python) little.
    big = smooth_png(work)
    # The rate is taken from the first image published to the last, so
    # the processes' start and the group's first rebalance do not count.
    rates = {}
    for converters in (1, 2):
        posts = [upload(token, big) for _ in range(30)]
        workers = [
            d.start("process", cpus=str(core), extra_env={"IMAGEGRAM_CONVERT_WORKERS": "1"})
            for core in range(converters)
        ]
        done = completion_times(posts)
        rates[converters] = (len(done) - 1) / (max(done) - min(done))
        for w in workers:
            d.stop(w)

    print(f"\nWhat each role spends, CPU ms per operation ({comments} comments, {reads} feed reads, 8 uploads of each kind):\n")
    print("| role | operation | CPU ms |")
    print("|---|---|---|")
    for (role, op), ms in cost.items():
        print(f"| {role} | {op} | {ms:.2f} |")
    sizes = ", ".join(f"{kind} {size / 1e6:.1f} MB" for kind, _, size in kinds)
    print(f"\nImages: {sizes}. Uploads below are 12 MP JPEGs.\n")
    print("| load | uploads/s | comments/s | feed reads/s | gateway cores | converter cores | projector + MariaDB cores | 2-core machines at 70% |")
    print("|---|---|---|---|---|---|---|---|")
    for scale in (1, 10, 100):
        up, co, rd = (FORECAST[k] * scale for k in ("uploads/s", "comments/s", "feed reads/s"))
        g = (up * cost[("gateway", "upload, 12 MP JPEG")] + co * cost[("gateway", "comment")]
             + rd * cost[("gateway", "feed read")]) / 1000
        c = up * cost[("converter", "upload, 12 MP JPEG")] / 1000
        p = co * (cost[("projector", "comment")] + cost.get(("MariaDB, for the projector", "comment"), 0)) / 1000
        machines = -(-(g + c + p) // (CORES_PER_MACHINE * TARGET_UTILISATION))
        print(f"| {scale}x | {up:.2f} | {co:.0f} | {rd:.0f} | {g:.2f} | {c:.2f} | {p:.2f} | {int(max(machines, 1))} |")
    print(f"\nScale-out: smooth 24 MP PNGs ({os.path.getsize(big) / 1e6:.1f} MB) converted a second, one converter process on one core: {rates[1]:.2f}; "
          f"two, each on a core of its own: {rates[2]:.2f} ({rates[2] / rates[1]:.2f}x)")


if __name__ == "__main__":
    main()
