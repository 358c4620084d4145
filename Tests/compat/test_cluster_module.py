"""Commands of features Lunar does not have, answered as redis-server 7.0 answers them when the feature
is off: CLUSTER, READONLY, READWRITE, ASKING (cluster-enabled no) and MODULE (no modules loaded, LOAD
gated by enable-module-command). Also RESTORE-ASKING, which a standalone server runs as RESTORE."""
import pytest

from support.servers import connected_pair, start_lunar


@pytest.fixture(params=[(), ("--enable-module-command", "yes"), ("--enable-module-command", "local")],
                ids=["modules-no", "modules-yes", "modules-local"])
def pair(request):
    with connected_pair(*request.param) as conns:
        yield conns


CASES = [
    ["CLUSTER", "INFO"], ["CLUSTER", "KEYSLOT", "foo"], ["CLUSTER", "KEYSLOT"], ["CLUSTER", "HELP"],
    ["CLUSTER"], ["CLUSTER", "foo"], ["CLUSTER", "NODES"], ["CLUSTER", "SLOTS"], ["CLUSTER", "SHARDS"],
    ["CLUSTER", "MYID"], ["CLUSTER", "MEET", "127.0.0.1", "7000"], ["CLUSTER", "MEET", "127.0.0.1"],
    ["CLUSTER", "RESET", "HARD", "x"], ["CLUSTER", "SETSLOT", "1", "STABLE"], ["CLUSTER", "GETKEYSINSLOT", "1"],
    ["cluster", "addslots", "1", "2"], ["CLUSTER", "FAILOVER", "FORCE"],
    ["READONLY"], ["READWRITE"], ["ASKING"], ["READONLY", "x"], ["ASKING", "x"],
    ["MODULE", "LIST"], ["MODULE", "LIST", "x"], ["MODULE", "LOAD"], ["MODULE", "LOAD", "/nonexistent.so"],
    ["MODULE", "LOAD", "/nonexistent.so", "a", "b"], ["MODULE", "LOADEX", "/x.so", "CONFIG", "a", "b"],
    ["MODULE", "LOADEX", "/x.so", "ARGS"], ["MODULE", "UNLOAD", "foo"], ["MODULE", "UNLOAD"],
    ["MODULE", "foo"], ["MODULE"],
    ["CONFIG", "GET", "cluster-enabled"], ["CONFIG", "GET", "enable-module-command"],
    ["CONFIG", "SET", "cluster-enabled", "yes"], ["CONFIG", "SET", "enable-module-command", "yes"],
    ["MULTI"], ["CLUSTER", "INFO"], ["MODULE", "LIST"], ["READONLY"], ["EXEC"],
    ["EVAL", "return redis.pcall('cluster', 'info')", "0"],
    ["EVAL", "return redis.pcall('module', 'list')", "0"],
    ["EVAL", "return redis.pcall('readonly')", "0"],
]


def test_replies_match_redis(pair):
    a, b = pair
    for args in CASES:
        assert a.call(*args) == b.call(*args), args


def test_module_help_lists_the_subcommands(pair):
    a, _ = pair
    kind, lines = a.call("MODULE", "HELP")
    assert kind == "array"
    text = [line[1].decode() for line in lines]
    assert text[0].startswith("MODULE <subcommand>")
    for sub in ("LIST", "LOAD <path>", "LOADEX <path>", "UNLOAD <name>", "HELP"):
        assert any(t.startswith(sub) for t in text), sub


def test_restore_asking_restores_like_restore(pair):
    a, b = pair
    for c in pair:
        c.call("FLUSHALL")
        c.call("RPUSH", "src", "x", "y", "z")
    payload = b.call("DUMP", "src")[1]
    for args in (["RESTORE-ASKING", "dst", "0", payload], ["RESTORE-ASKING", "dst", "0", payload],
                 ["RESTORE-ASKING", "dst", "0", payload, "REPLACE"], ["LRANGE", "dst", "0", "-1"],
                 ["RESTORE-ASKING", "bad", "0", b"garbage"], ["RESTORE-ASKING", "x", "0"],
                 ["RESTORE-ASKING", "ttl", "5000", payload], ["TYPE", "ttl"]):
        assert a.call(*args) == b.call(*args), args


def test_cluster_enabled_yes_refuses_to_start():
    with pytest.raises(RuntimeError, match="exited early"):
        start_lunar("--cluster-enabled", "yes").stop()
