"""Helpers for the lunar-cli tests: find the binaries, run a client through a pipe or a pseudo-terminal."""
import os
import pty
import select
import shutil
import subprocess
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def lunar_cli():
    b = os.environ.get("LUNAR_CLI")
    if b:
        return os.path.abspath(b)
    if os.environ.get("LUNAR_SERVER"):
        p = os.path.join(os.path.dirname(os.path.abspath(os.environ["LUNAR_SERVER"])), "lunar-cli")
        if os.path.exists(p):
            return p
    for cfg in ("release", "debug"):
        p = os.path.join(ROOT, ".build", cfg, "lunar-cli")
        if os.path.exists(p):
            return p
    raise RuntimeError("lunar-cli not built")


def redis_cli():
    exe = shutil.which("redis-cli")
    if not exe:
        raise RuntimeError("redis-cli not installed; run scripts/install-deps")
    return exe


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("FAKETTY", "REDISCLI_AUTH")}
    env["TERM"] = "dumb"
    env.update(extra)
    return env


def run_pipe(argv, stdin=b"", env=None, timeout=60):
    """Runs with stdout/stderr as pipes (raw mode). Returns (rc, stdout, stderr)."""
    p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env or clean_env(), timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def run_tty(argv, env=None, timeout=60, stdin=None):
    """Runs with stdout and stderr on a pseudo-terminal (TTY formatting). Returns (rc, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                         stdout=slave, stderr=slave, env=env or clean_env(), close_fds=True)
    os.close(slave)
    if stdin is not None:
        p.stdin.write(stdin)
        p.stdin.close()
    out = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            # Drain what is left.
            try:
                while True:
                    r, _, _ = select.select([master], [], [], 0.05)
                    if not r:
                        break
                    chunk = os.read(master, 65536)
                    if not chunk:
                        break
                    out += chunk
            except OSError:
                pass
            break
    else:
        p.kill()
        raise TimeoutError(argv)
    os.close(master)
    rc = p.wait(10)
    return rc, out
