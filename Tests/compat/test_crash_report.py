"""Crash reports (crash-log-enabled): a server that dies by SIGSEGV or SIGABRT writes "crashed by
signal" and a stack trace to its log first, then dies by that signal, on Lunar as on redis-server
7.0. DEBUG SEGFAULT and DEBUG PANIC crash on purpose."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from support.resp import Conn
from support.servers import free_port, lunar_argv, wait_port

KINDS = ["lunar", "redis"]


def start(kind, *extra):
    """(process, port, logfile) of a server logging to a file in a new directory."""
    wd = tempfile.mkdtemp(prefix=f"crash-{kind}-")
    log = os.path.join(wd, "server.log")
    port = free_port()
    if kind == "lunar":
        argv = lunar_argv(port, "--logfile", log, *extra)
    else:
        argv = [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--enable-debug-command", "yes", "--dir", wd, "--logfile", log] + list(extra)
    p = subprocess.Popen(argv, cwd=wd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, p)
    return p, port, log


def died_by(p, sig):
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("the server did not die")
    assert p.returncode == -sig, p.returncode


def log_text(path):
    with open(path, errors="replace") as f:
        return f.read()


@pytest.mark.parametrize("kind", KINDS)
def test_debug_segfault_is_reported_in_the_log(kind):
    p, port, log = start(kind)
    c = Conn(port)
    with pytest.raises(Exception):
        c.call("DEBUG", "SEGFAULT")
    died_by(p, signal.SIGSEGV)
    text = log_text(log)
    assert "crashed by signal: 11" in text
    assert "STACK TRACE" in text


@pytest.mark.parametrize("kind", KINDS)
def test_sigabrt_is_reported_in_the_log(kind):
    p, port, log = start(kind)
    p.send_signal(signal.SIGABRT)
    died_by(p, signal.SIGABRT)
    assert "crashed by signal: 6" in log_text(log)


@pytest.mark.parametrize("kind", KINDS)
def test_debug_panic_is_reported_in_the_log(kind):
    p, port, log = start(kind)
    with pytest.raises(Exception):
        Conn(port).call("DEBUG", "PANIC")
    died_by(p, signal.SIGABRT)
    text = log_text(log)
    assert "Guru Meditation: DEBUG PANIC called at Unix time" in text
    # Redis logs its own trace for a panic; Lunar's comes from the SIGABRT that follows.
    assert "STACK TRACE" in text


@pytest.mark.parametrize("kind", KINDS)
def test_no_report_with_crash_log_disabled(kind):
    p, port, log = start(kind)
    c = Conn(port)
    assert c.call("CONFIG", "SET", "crash-log-enabled", "no") == ("simple", b"OK")
    p.send_signal(signal.SIGABRT)
    died_by(p, signal.SIGABRT)
    time.sleep(0.1)
    assert "crashed by signal" not in log_text(log)
