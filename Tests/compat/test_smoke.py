"""First contact: redis-py and redis-cli talk to Lunar."""
import shutil
import subprocess


def test_ping_set_get(r):
    assert r.ping()
    assert r.set("a", "b")
    assert r.get("a") == b"b"
    assert r.get("missing") is None


def test_redis_cli_ping(lunar_server):
    out = subprocess.run([shutil.which("redis-cli"), "-p", str(lunar_server.port), "ping"],
                         capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "PONG"
