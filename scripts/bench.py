#!/usr/bin/env python3
"""Benchmark driver for scripts/bench: runs redis-benchmark against Lunar and redis-server 7.0."""
import argparse
import csv
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# PING_MBULK does no keyspace work: its row is the floor the loopback, the kernel and redis-benchmark
# set for both servers, against which the other rows read.
TESTS = ["ping_mbulk", "set", "get", "incr", "lpush", "lpop", "sadd", "hset", "zadd", "mset"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on {port} did not start")


def taskset(core):
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() >= 2 else []


def start(kind, exe, port, core, wd, appendonly=False):
    # Each server in its own directory: with --appendonly both write an appendonlydir there.
    wd = os.path.join(wd, kind)
    os.makedirs(wd, exist_ok=True)
    common = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes" if appendonly else "no"]
    if kind == "redis":
        argv = [exe] + common + ["--dir", wd, "--daemonize", "no"]
    else:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        argv = [exe] + common + ["--lua-library-dir", os.path.join(root, "lua")]
    p = subprocess.Popen(taskset(core) + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=wd)
    wait_port(port)
    return p


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True, text=True, timeout=60).stdout.strip()


def cpu_ticks(pid):
    """User + system CPU time of all of a process's threads, in clock ticks (/proc)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass   # a thread that ended meanwhile
    return total


def bench(port, core, tests, pipeline, n, clients, extra=None, pid=None):
    """Returns {test name: (rps, p50, p99, server CPU µs per request)} from redis-benchmark --csv.
    The server's CPU time (all threads, user + system) is read before and after the run; with one
    test per run it is that test's cost, the client's load included."""
    argv = taskset(core) + ["redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(n),
                            "-P", str(pipeline), "-r", "100000", "--csv"]
    if extra:
        argv += ["-q"] + extra
    else:
        argv += ["-t", ",".join(tests)]
    before = cpu_ticks(pid) if pid else 0
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600).stdout
    cpu = (cpu_ticks(pid) - before) * 1e6 / os.sysconf("SC_CLK_TCK") / n if pid else 0.0
    res = {}
    for row in csv.reader(io.StringIO(out)):
        if not row or row[0] == "test":
            continue
        name = row[0].split(" ")[0].lower()
        if name.startswith("mset"):
            name = "mset"
        res[name] = (float(row[1]), float(row[4]), float(row[6]), cpu)
    return res


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def settle(pid, limit=15.0):
    """Waits until the process's RSS changes by less than 0.5% over one second (at most `limit` s)."""
    deadline = time.time() + limit
    last = rss_bytes(pid)
    while time.time() < deadline:
        time.sleep(1.0)
        now = rss_bytes(pid)
        if abs(now - last) <= last * 0.005:
            return
        last = now


def used_memory(port):
    for line in cli(port, "info", "memory").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    return 0


def load_keys(port, count):
    """Mass-inserts `count` small string keys with redis-cli --pipe. Values differ from one key to
    the next (x00..x99): Lunar shares the storage of a small argument equal to the previous
    command's, so one constant value for every key would flatter it."""
    buf = io.BytesIO()
    for i in range(count):
        k = b"key:%012d" % i
        buf.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nx%02d\r\n" % (len(k), k, i % 100))
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=buf.getvalue(), capture_output=True, timeout=600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lunar", required=True)
    ap.add_argument("--redis", default=shutil.which("redis-server"))
    ap.add_argument("-n", type=int, default=200000, help="requests per test at -P 1 (x5 at -P 16)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--keys", type=int, default=1_000_000, help="keys loaded for the memory table (0: no table)")
    ap.add_argument("--tests", default=",".join(TESTS))
    ap.add_argument("--appendonly", action="store_true",
                    help="both servers with the append-only file on (appendfsync everysec)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs per test and server, interleaved Lunar/Redis; the medians are reported")
    args = ap.parse_args()
    args.lunar = os.path.abspath(args.lunar)
    tests = [t for t in args.tests.split(",") if t]
    # The scripting rows always run; naming them in --tests only picks the order.
    all_tests = tests + [t for t in ("evalsha", "fcall") if t not in tests]
    servers = {}
    wd = tempfile.mkdtemp(prefix="lunar-bench-")
    rows = []
    try:
        for kind, exe in (("lunar", args.lunar), ("redis", args.redis)):
            port = free_port()
            servers[kind] = (start(kind, exe, port, 0, wd, args.appendonly), port)
        # Scripting rows: a one-redis.call script by EVALSHA, and the same as a function by FCALL.
        extras = {}
        for kind, (_, port) in servers.items():
            sha = cli(port, "script", "load", "return redis.call('incr', KEYS[1])")
            cli(port, "function", "load", "replace",
                "#!lua name=benchlib\nredis.register_function('bincr', function(keys, args) return redis.call('incr', keys[1]) end)")
            extras[kind] = {"evalsha": ["evalsha", sha, "1", "counter:__rand_int__"],
                            "fcall": ["fcall", "bincr", "1", "counter:__rand_int__"]}
        # Every test runs `repeat` times on each server, the servers taking turns (the first one
        # alternating), so a burst of noise on the machine does not land on one server only; the
        # median run is reported.
        runs = {}
        for p in (1, 16):
            n = args.n if p == 1 else args.n * 5
            for t in all_tests:
                for r in range(max(1, args.repeat)):
                    order = list(servers.items()) if r % 2 == 0 else list(reversed(servers.items()))
                    for kind, (proc, port) in order:
                        if t in extras[kind]:
                            res = bench(port, 1, [t], p, n, args.clients, extra=extras[kind][t], pid=proc.pid)
                        else:
                            res = bench(port, 1, [t], p, n, args.clients, pid=proc.pid)
                        runs.setdefault((kind, p, t), []).append(list(res.values())[0] if res else None)
        # The ratio is the median of the ratios of runs made back to back (one pair per repetition):
        # the machine's speed drifts by more than the servers differ, and a pair shares one spell.
        # The same for the servers' CPU time per request, as Redis's over Lunar's (above 1: Lunar
        # spends less). At `-P 1` redis-benchmark's own core is the limit for both servers, so the
        # request rate hides how much of its core each server needs; this column shows it.
        pair_ratios, cpu_ratios = {}, {}
        for p in (1, 16):
            for t in all_tests:
                pairs = list(zip(runs.get(("lunar", p, t), []), runs.get(("redis", p, t), [])))
                rs = sorted(a[0] / b[0] for a, b in pairs if a and b and b[0])
                if rs:
                    pair_ratios[(p, t)] = rs
                cs = sorted(b[3] / a[3] for a, b in pairs if a and b and a[3] and b[3])
                if cs:
                    cpu_ratios[(p, t)] = cs
        runs = {k: [r for r in v if r] for k, v in runs.items()}
        results = {}
        for (kind, p, t), rs in runs.items():
            rs.sort(key=lambda x: x[0])
            results.setdefault((kind, p), {})[t] = rs[len(rs) // 2]
        print(f"# Lunar vs Redis {cli(servers['redis'][1], 'info', 'server').split('redis_version:')[1].split()[0]}, "
              f"{args.clients} clients, server on core 0, redis-benchmark on core 1, "
              f"{'appendonly yes (appendfsync everysec), ' if args.appendonly else ''}"
              f"{max(1, args.repeat)} interleaved runs each (req/s, latencies and server CPU: the median run; ratio: the "
              f"median of the back-to-back pairs' ratios, with the lowest and highest; CPU ratio: Redis's server "
              f"CPU per request over Lunar's, median of the pairs), {time.strftime('%Y-%m-%d')}")
        print()
        print("| test | pipeline | Lunar req/s | Redis req/s | ratio | pair ratios | Lunar p50/p99 ms | Redis p50/p99 ms "
              "| server CPU µs/req Lunar/Redis | CPU ratio |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for p in (1, 16):
            for t in all_tests:
                a = results.get(("lunar", p), {}).get(t)
                b = results.get(("redis", p), {}).get(t)
                if not a and not b:
                    continue
                rs = pair_ratios.get((p, t))
                ratio = f"{statistics.median(rs):.2f}" if rs else "n/a"
                spread = f"{rs[0]:.2f}–{rs[-1]:.2f}" if rs else "-"
                fa = f"{a[0]:,.0f}" if a else "error"
                fb = f"{b[0]:,.0f}" if b else "error"
                la = f"{a[1]:.3f}/{a[2]:.3f}" if a else "-"
                lb = f"{b[1]:.3f}/{b[2]:.3f}" if b else "-"
                cs = cpu_ratios.get((p, t))
                ca = statistics.median(r[3] for r in runs[("lunar", p, t)]) if a else 0
                cb = statistics.median(r[3] for r in runs[("redis", p, t)]) if b else 0
                cpu = f"{ca:.2f}/{cb:.2f}" if ca and cb else "-"
                cratio = f"{statistics.median(cs):.2f}" if cs else "n/a"
                print(f"| {t.upper()} | {p} | {fa} | {fb} | {ratio} | {spread} | {la} | {lb} | {cpu} | {cratio} |")
        if args.keys <= 0:
            return
        print()
        print(f"Memory after loading {args.keys:,} keys (`key:NNNNNNNNNNNN` = `x00`..`x99`, a different value than the previous key's):")
        print()
        print("| server | used_memory/key | RSS growth/key |")
        print("|---|---|---|")
        mem = {}
        for kind, (proc, port) in servers.items():
            cli(port, "flushall")
            # Both readings wait for the allocator to settle (freed pages returned to the kernel):
            # a base taken while the benchmark's data is still being released would make the growth
            # look smaller than it is, one taken after loading would count the grown tables' old arrays.
            settle(proc.pid)
            base_rss, base_used = rss_bytes(proc.pid), used_memory(port)
            load_keys(port, args.keys)
            settle(proc.pid)
            dbsize = int(cli(port, "dbsize") or 0)
            du = (used_memory(port) - base_used) / max(1, dbsize)
            dr = (rss_bytes(proc.pid) - base_rss) / max(1, dbsize)
            mem[kind] = (du, dr)
            print(f"| {kind} ({dbsize:,} keys) | {du:.1f} B | {dr:.1f} B |")
        if mem.get("redis") and mem["redis"][1] > 0:
            print(f"\nRSS per key ratio Lunar/Redis: {mem['lunar'][1] / mem['redis'][1]:.2f}")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(wd, ignore_errors=True)   # append-only files grow large


if __name__ == "__main__":
    sys.exit(main())
