"""Start real servers for tests: lunar-server (the build under test) and redis-server 7.0 (the reference).

Servers listen on free loopback ports only and are killed when the test session ends.
"""
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def lunar_binary():
    b = os.environ.get("LUNAR_SERVER")
    if b:
        return os.path.abspath(b)
    for cfg in ("release", "debug"):
        p = os.path.join(ROOT, ".build", cfg, "lunar-server")
        if os.path.exists(p):
            return p
    raise RuntimeError("lunar-server not built; run scripts/test")


class Server:
    def __init__(self, argv, port, workdir):
        self.port = port
        self.workdir = workdir
        self.log = open(os.path.join(workdir, "server.log"), "w+")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        wait_port(port, self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()


def lunar_argv(port, *extra):
    """The command line tests run Lunar with: loopback, DEBUG allowed, the shipped libraries, no saving
    (--save '') unless `extra` sets save points again."""
    return [lunar_binary(), "--port", str(port), "--bind", "127.0.0.1",
            "--enable-debug-command", "yes", "--lua-library-dir", os.path.join(ROOT, "lua"),
            "--save", ""] + list(extra)


def start_lunar(*extra, workdir=None):
    """Lunar on a free port, run in `workdir` (a new temp dir by default; its `dir` is the cwd)."""
    port = free_port()
    wd = workdir or tempfile.mkdtemp(prefix="lunar-test-")
    return Server(lunar_argv(port, *extra), port, wd)


def lunar_refuses(*extra, workdir, timeout=20.0):
    """Runs Lunar where it must refuse to start (its listeners may come up before it reads the
    dataset, as Redis's do, so a connection proves nothing): waits for it to exit and returns
    (exit code, log)."""
    port = free_port()
    logpath = os.path.join(workdir, "server.log")
    with open(logpath, "w") as log:
        proc = subprocess.Popen(lunar_argv(port, *extra), stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"lunar-server did not exit within {timeout}s")
    with open(logpath) as f:
        return code, f.read()


def start_redis(*extra):
    exe = shutil.which("redis-server")
    if not exe:
        raise RuntimeError("redis-server not installed; run scripts/install-deps")
    port = free_port()
    wd = tempfile.mkdtemp(prefix="redis-ref-")
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--enable-debug-command", "yes", "--daemonize", "no", "--dir", wd] + list(extra)
    return Server(argv, port, wd)


@contextlib.contextmanager
def lunar_and_redis(*extra):
    """A Lunar and a redis-server started with the same extra arguments, stopped on leaving."""
    lunar = start_lunar(*extra)
    try:
        ref = start_redis(*extra)
    except BaseException:
        lunar.stop()
        raise
    try:
        yield lunar, ref
    finally:
        lunar.stop()
        ref.stop()


@contextlib.contextmanager
def connected_pair(*extra):
    """Connections (support.resp.Conn) to a fresh Lunar and a fresh redis-server, closed on leaving."""
    from support.resp import Conn
    with lunar_and_redis(*extra) as (lunar, ref):
        a, b = Conn(lunar.port), Conn(ref.port)
        try:
            yield a, b
        finally:
            a.close()
            b.close()
