"""Start-up loading: the server listens while it reads its RDB file or append-only files, and until
the dataset is in answers every command not flagged `loading` with LOADING, as Redis does. Each test
gives Lunar and redis-server 7.0 the same files (written by redis-server) and a key-load-delay that
makes loading last seconds, then compares the replies sent meanwhile and after."""
import contextlib
import os
import shutil
import tempfile
import time

from support.resp import Conn
from support.servers import Server, free_port, lunar_argv

KEYS = 12000
DELAY_US = "200"   # per key: loading takes a few seconds on either server


def make_files(*config):
    """A redis-server directory holding a dataset of KEYS keys saved with `config` (SAVE, or
    BGREWRITEAOF with appendonly), the server stopped."""
    wd = tempfile.mkdtemp(prefix="loading-src-")
    port = free_port()
    s = Server([shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--enable-debug-command", "yes", "--dir", wd] + list(config), port, wd)
    try:
        c = Conn(port)
        assert c.call("DEBUG", "POPULATE", str(KEYS), "key", "10") == ("simple", b"OK")
        c.call("SET", "greeting", "hello")
        if "--appendonly" in config:
            # DEBUG POPULATE is not logged: a rewrite puts the keys into the base file.
            c.call("BGREWRITEAOF")
            deadline = time.time() + 20
            base = os.path.join(wd, "appendonlydir", "appendonly.aof.2.base.rdb")
            while not (os.path.exists(base) and b"aof_rewrite_in_progress:0\r" in c.call("INFO", "persistence")[1]):
                assert time.time() < deadline, "the AOF rewrite did not finish"
                time.sleep(0.05)
        else:
            assert c.call("SAVE") == ("simple", b"OK")
        c.close()
    finally:
        s.stop()
    return wd


@contextlib.contextmanager
def slow_loading_pair(*config):
    """Lunar and redis-server loading copies of the same files (see make_files), stopped on leaving."""
    src = make_files(*config)
    lunar, ref = start_both(src, *config)
    try:
        yield lunar, ref
    finally:
        lunar.stop()
        ref.stop()
        shutil.rmtree(src, ignore_errors=True)


def start_both(src, *extra):
    """Lunar and redis-server each on a copy of `src`, loading slowly."""
    slow = ["--key-load-delay", DELAY_US, "--loading-process-events-interval-bytes", "1024"] + list(extra)
    lwd = tempfile.mkdtemp(prefix="loading-lunar-")
    rwd = tempfile.mkdtemp(prefix="loading-redis-")
    for wd in (lwd, rwd):
        shutil.copytree(src, wd, dirs_exist_ok=True)
        for f in ("server.log",):
            if os.path.exists(os.path.join(wd, f)):
                os.remove(os.path.join(wd, f))
    lport, rport = free_port(), free_port()
    lunar = Server(lunar_argv(lport, *slow), lport, lwd)
    try:
        ref = Server([shutil.which("redis-server"), "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                      "--enable-debug-command", "yes", "--dir", rwd] + slow, rport, rwd)
    except BaseException:
        lunar.stop()
        raise
    return lunar, ref


def wait_loaded(c, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if c.call("PING") == ("simple", b"PONG"):
            return
        time.sleep(0.05)
    raise AssertionError("still loading")


def info_fields(c):
    kind, text = c.call("INFO", "persistence")
    assert kind == "bulk"
    return dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line)


def check_while_loading(a, b):
    la, lb = info_fields(a), info_fields(b)
    assert la["loading"] == lb["loading"] == "1"
    loading_keys = sorted(k for k in lb if k.startswith("loading_"))
    assert sorted(k for k in la if k.startswith("loading_")) == loading_keys
    assert 0 <= float(la["loading_loaded_perc"]) <= 100
    assert int(la["loading_total_bytes"]) > 0
    script = [
        ("PING",), ("GET", "greeting"), ("DBSIZE",), ("SET", "k", "v"), ("CONFIG", "GET", "maxmemory"),
        ("SELECT", "1"), ("SELECT", "0"), ("CLIENT", "SETNAME", "loader-watcher"), ("CLIENT", "GETNAME"),
        ("MULTI",), ("GET", "greeting"), ("PUBLISH", "ch", "m"), ("EXEC",),
        ("MULTI",), ("PUBLISH", "ch", "m"), ("EXEC",),
        ("EVAL", "return 1", "0"), ("FCALL", "nosuch", "0"), ("BLPOP", "l", "1"), ("ECHO", "hi"),
    ]
    for cmd in script:
        ra, rb = a.call(*cmd), b.call(*cmd)
        assert ra == rb, f"{cmd}: lunar={ra!r} redis={rb!r}"
    # Both are still loading: the comparison above saw the same state on both sides.
    assert info_fields(a)["loading"] == info_fields(b)["loading"] == "1"


def check_after_loading(a, b):
    wait_loaded(a)
    wait_loaded(b)
    for cmd in (("DBSIZE",), ("GET", "greeting"), ("GET", "key:17"), ("EXISTS", "k")):
        ra, rb = a.call(*cmd), b.call(*cmd)
        assert ra == rb, f"{cmd}: lunar={ra!r} redis={rb!r}"
    la, lb = info_fields(a), info_fields(b)
    assert la["loading"] == lb["loading"] == "0"
    assert not [k for k in la if k.startswith("loading_")]


def test_clients_get_loading_while_the_rdb_file_loads():
    with slow_loading_pair() as (lunar, ref):
        a, b = Conn(lunar.port), Conn(ref.port)
        check_while_loading(a, b)
        check_after_loading(a, b)
        # Only this test's connection remains on Lunar.
        assert b"connected_clients:1\r" in a.call("INFO", "clients")[1]
        a.close()
        b.close()


def test_clients_connecting_and_leaving_during_the_load_are_forgotten():
    with slow_loading_pair() as (lunar, ref):
        for port in (lunar.port, ref.port):
            c = Conn(port)
            assert info_fields(c)["loading"] == "1"
            for _ in range(5):
                Conn(port).close()
            deadline = time.time() + 10
            while b"connected_clients:1\r" not in c.call("INFO", "clients")[1] and time.time() < deadline:
                time.sleep(0.05)
            # Forgotten while the load still runs (Redis's "client freed during loading").
            assert b"connected_clients:1\r" in c.call("INFO", "clients")[1]
            assert info_fields(c)["loading"] == "1"
            c.close()


def test_clients_get_loading_while_the_append_only_files_load():
    with slow_loading_pair("--appendonly", "yes") as (lunar, ref):
        a, b = Conn(lunar.port), Conn(ref.port)
        check_while_loading(a, b)
        check_after_loading(a, b)
        a.close()
        b.close()
