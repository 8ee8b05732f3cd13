#!/usr/bin/env python
"""Load run against a running `make serve`: N clients for S seconds, mixed reads and evaluator writes.

    make serve                      # in one terminal (see benchmarks/LOAD.md for the environment)
    make load-test LOAD_ARGS="--seconds 120 --kill-connections-at 60"

Each client is a thread with its own HTTP connection. Four requests in five are anonymous reads,
picked in turn from API lists, details, full-text search, the matrix and the public pages; the fifth
is a write: the client PATCHes the `notes` of its own draft configuration (made for this run, one per
client, with the evaluator's token), appending one numbered line each time. At the end every row is
read back and every acknowledged (2xx) write must be in it: a missing line is a lost write.

--kill-connections-at T terminates, T seconds in, every connection to the app's PostgreSQL database
(pg_terminate_backend on all backends of that database but our own), as a database restart or a
failover would. The app must carry on without a restart; a request in flight at that moment (it began
before the kill and ended after it) may fail: such failures are counted apart from the others, which
must stay at 0.

Only for a server on this machine: the URL and the database must be on 127.0.0.1/localhost. Stdlib
only (threads, http.client); psycopg2 (a dependency of the app) for the kill. Every loop is bounded by
the deadline and by --max-requests per client. Exit status 1 on any lost write or any error other
than those of requests in flight at a kill (which are printed all the same).
"""

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from urllib.parse import urlencode, urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
KILL_SQL = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


class Client:
    """One keep-alive HTTP connection (reopened when the server closes it), with a timeout."""

    def __init__(self, base_url, timeout):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.connection = None

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        headers.setdefault("Accept", "application/json, text/html;q=0.9")
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.connection.request(method, path, body=payload, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except Exception:
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, data

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def check_local(url):
    host = urlsplit(url).hostname
    if host not in LOCAL_HOSTS:
        sys.exit(f"load.py runs against a server on this machine only (127.0.0.1/localhost), not {host!r}.")


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def setup(args):
    """Token, the public objects to read, and one draft configuration per client."""
    client = Client(args.url, args.timeout)
    waited_until = time.monotonic() + args.wait
    while True:  # `make serve` migrates and collects static files before it listens
        try:
            if client.request("GET", "/")[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > waited_until:
            sys.exit(f"No server answered at {args.url} within {args.wait:g} s; start it with `make serve`.")
        time.sleep(1)
    status, body = client.request("POST", "/api/auth/token/", {"username": args.username, "password": args.password})
    if status != 200:
        sys.exit(f"Could not get a token for {args.username!r}: {status} {body[:300]!r}")
    token = json.loads(body)["token"]
    auth = {"Authorization": f"Token {token}"}

    def get_json(path):
        status, body = client.request("GET", path)
        if status != 200:
            sys.exit(f"Setup: GET {path} answered {status}: {body[:300]!r}")
        return json.loads(body)

    configurations = [c["slug"] for c in get_json("/api/configurations/?view=compact&page_size=100")["results"]]
    teams = [t["slug"] for t in get_json("/api/teams/")["results"]]
    excerpts = [e["id"] for e in get_json("/api/excerpts/?page_size=100")["results"]]
    if not (configurations and teams and excerpts):
        sys.exit("Setup: the knowledge base is empty; run `manage.py load_ctg` first.")
    run = uuid.uuid4().hex[:8]
    rows = []
    for number in range(args.clients):
        slug = f"load-{run}-{number:02d}"
        status, body = client.request("POST", "/api/configurations/", {
            "slug": slug, "title": f"Load run {run}, client {number}", "status": "draft",
            "statement": "A draft written by benchmarks/load.py; safe to delete.", "notes": "",
        }, headers=auth)
        if status != 201:
            sys.exit(f"Setup: could not create draft {slug}: {status} {body[:300]!r}")
        rows.append(slug)
    client.close()
    reads = [
        "/api/configurations/",
        "/api/configurations/?view=compact&effect=disabled",
        "/api/excerpts/?" + urlencode({"search": "relationship", "kind": "participant_quote"}),
        "/api/teams/",
        "/api/matrix/?rows=team&cols=mechanism",
        "/",
        "/configurations/",
        "/matrix/",
        "/search/?q=nurses",
    ]
    reads += [f"/api/configurations/{slug}/" for slug in configurations[:20]]
    reads += [f"/configurations/{slug}/" for slug in configurations[:20]]
    reads += [f"/teams/{slug}/" for slug in teams]
    reads += [f"/excerpts/{pk}/" for pk in excerpts[:20]]
    return auth, rows, reads, run


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = {"read": [], "write": []}
        self.errors = []  # (began, ended: seconds since start, kind, method, path, what)
        self.acknowledged = {}  # row slug -> [write numbers answered 2xx]

    def record(self, kind, elapsed, error=None):
        with self.lock:
            self.latencies[kind].append(elapsed)
            if error:
                self.errors.append(error)


def run_client(number, args, auth, row, reads, results, start, deadline):
    client = Client(args.url, args.timeout)
    rng = random.Random(number)
    notes, written = "", []
    for count in range(args.max_requests):
        now = time.monotonic()
        if now >= deadline:
            break
        if count % 5 == 4:
            kind, method, path = "write", "PATCH", f"/api/configurations/{row}/"
            line = f"client {number} write {len(written) + 1}"
            body, headers = {"notes": (notes + "\n" + line).strip()}, auth
        else:
            kind, method, path, body, headers = "read", "GET", rng.choice(reads), None, None
        began = time.monotonic()
        error = None
        try:
            status, data = client.request(method, path, body, headers)
            if status != 200:
                error = f"{status} {data[:160]!r}"
        except Exception as exc:  # a refused, reset or timed-out connection is an error of this request
            error = f"{type(exc).__name__}: {exc}"
        elapsed = time.monotonic() - began
        if error is None and kind == "write":
            notes = body["notes"]
            written.append(len(written) + 1)
        error = (round(began - start, 2), round(began + elapsed - start, 2), kind, method, path, error) if error else None
        results.record(kind, elapsed, error)
    client.close()
    with results.lock:
        results.acknowledged[row] = written


def kill_connections(database_url, at, start, report):
    import psycopg2

    time.sleep(max(0.0, start + at - time.monotonic()))
    report["from"] = time.monotonic() - start
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute(KILL_SQL)
        report["terminated"] = cursor.fetchone()[0]
    connection.close()
    report["to"] = time.monotonic() - start


def verify_and_clean(args, auth, rows, results):
    """Lost writes: acknowledged lines missing from each row's notes. Then delete the rows."""
    client = Client(args.url, args.timeout)
    lost, problems = 0, []
    for number, row in enumerate(rows):
        status, body = client.request("GET", f"/api/configurations/{row}/", headers=auth)
        if status != 200:
            problems.append(f"read-back of {row}: {status}")
            lost += len(results.acknowledged.get(row, []))
            continue
        present = set(json.loads(body).get("notes", "").splitlines())
        for write in results.acknowledged.get(row, []):
            if f"client {number} write {write}" not in present:
                lost += 1
    for row in rows:
        status, _ = client.request("DELETE", f"/api/configurations/{row}/", headers=auth)
        if status not in (204, 404):
            problems.append(f"could not delete {row}: {status}")
    client.close()
    return lost, problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running server (127.0.0.1 only)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--max-requests", type=int, default=100_000, help="per client, a bound besides the deadline")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per request")
    parser.add_argument("--wait", type=float, default=90.0, help="seconds to wait for the server to come up")
    parser.add_argument("--username", default="evaluator")
    parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD") or "demo")
    parser.add_argument("--kill-connections-at", type=float, metavar="SECONDS",
                        help="terminate the app's PostgreSQL connections this many seconds in")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                        help="the app's PostgreSQL database, for --kill-connections-at (default $DATABASE_URL)")
    args = parser.parse_args(argv)
    check_local(args.url)
    if not (1 <= args.clients <= 200):
        parser.error("--clients must be between 1 and 200")
    if not (0 < args.seconds <= 3600):
        parser.error("--seconds must be between 0 and 3600")
    if args.kill_connections_at is not None:
        if not args.database_url.startswith(("postgres://", "postgresql://")):
            parser.error("--kill-connections-at needs the app's PostgreSQL --database-url (or $DATABASE_URL)")
        check_local(args.database_url)
        if not (0 <= args.kill_connections_at < args.seconds):
            parser.error("--kill-connections-at must fall within --seconds")

    auth, rows, reads, run = setup(args)
    results, kill = Results(), {}
    start = time.monotonic()
    deadline = start + args.seconds
    threads = [
        threading.Thread(target=run_client, args=(n, args, auth, rows[n], reads, results, start, deadline), daemon=True)
        for n in range(args.clients)
    ]
    if args.kill_connections_at is not None:
        threads.append(threading.Thread(target=kill_connections,
                                        args=(args.database_url, args.kill_connections_at, start, kill), daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=args.seconds + args.timeout + 60)
    duration = time.monotonic() - start
    lost, problems = verify_and_clean(args, auth, rows, results)

    reads_ms = [s * 1000 for s in results.latencies["read"]]
    writes_ms = [s * 1000 for s in results.latencies["write"]]
    everything = reads_ms + writes_ms
    acknowledged = sum(len(v) for v in results.acknowledged.values())
    print(f"load run {run}: {args.clients} clients, {args.seconds:g} s against {args.url}")
    print(f"requests: {len(everything)} ({len(reads_ms)} reads, {len(writes_ms)} writes) in {duration:.1f} s, "
          f"{len(everything) / duration:.1f}/s")
    print(f"errors: {len(results.errors)}")
    if kill:
        in_flight = [e for e in results.errors if e[0] <= kill["to"] and e[1] >= kill["from"]]
        print(f"kill at {kill['from']:.2f} s: terminated {kill['terminated']} database connections; "
              f"errors of requests in flight at the kill: {len(in_flight)}; "
              f"errors of all other requests: {len(results.errors) - len(in_flight)}")
    print(f"lost writes: {lost} of {acknowledged} acknowledged")
    print(f"latency ms: all p50 {statistics.median(everything):.1f} p95 {percentile(everything, 95):.1f}; "
          f"reads p50 {statistics.median(reads_ms):.1f} p95 {percentile(reads_ms, 95):.1f}; "
          f"writes p50 {statistics.median(writes_ms):.1f} p95 {percentile(writes_ms, 95):.1f}")
    for began, ended, kind, method, path, error in results.errors[:20]:
        print(f"  error {began}-{ended} s: {method} {path}: {error}")
    for problem in problems:
        print(f"  problem: {problem}")
    in_flight_at_kill = in_flight if kill else []
    return 1 if len(results.errors) > len(in_flight_at_kill) or lost or problems else 0


if __name__ == "__main__":
    sys.exit(main())
