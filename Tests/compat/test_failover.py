"""FAILOVER against redis-server 7.0: its errors and states compared reply by reply, and real role
switches between Lunar and redis-server in every direction (Lunar to Lunar, Lunar to a redis-server
replica, a redis-server master to a Lunar replica), with the data checked on both sides afterwards.
A hand-driven replica that never acknowledges keeps a failover waiting (ABORT, TIMEOUT, FORCE)."""
import threading

import pytest

from support.resp import Conn
from support.servers import start_lunar, start_redis
from test_replication import RawReplica, info, wait_link_up, wait_until

START = {"lunar": start_lunar, "redis": start_redis}


def both(conns, *args):
    a, b = (c.call(*args) for c in conns)
    assert a == b, (args, a, b)
    return a


def test_errors_without_replicas_match_redis():
    lunar, ref = start_lunar(), start_redis()
    conns = (Conn(lunar.port), Conn(ref.port))
    try:
        for args in (["FAILOVER"], ["FAILOVER", "ABORT"], ["FAILOVER", "TO", "127.0.0.1", "7504"],
                     ["FAILOVER", "TO", "127.0.0.1"], ["FAILOVER", "TO", "127.0.0.1", "x"], ["FAILOVER", "TIMEOUT", "0"],
                     ["FAILOVER", "TIMEOUT", "-1"], ["FAILOVER", "TIMEOUT", "x"], ["FAILOVER", "FORCE"],
                     ["FAILOVER", "TIMEOUT", "100", "FORCE"], ["FAILOVER", "ABORT", "TIMEOUT", "10"],
                     ["FAILOVER", "TO", "h", "1", "ABORT"], ["FAILOVER", "FOO"], ["FAILOVER", "FORCE", "FORCE"],
                     ["FAILOVER", "TO", "h", "1", "TO", "h", "2"], ["FAILOVER", "TIMEOUT", "5", "TIMEOUT", "6"],
                     ["MULTI"], ["FAILOVER"], ["EXEC"], ["EVAL", "return redis.pcall('failover')", "0"]):
            both(conns, *args)
        assert info(lunar.port)["master_failover_state"] == "no-failover"
    finally:
        for c in conns:
            c.close()
        lunar.stop()
        ref.stop()


def test_waiting_failover_abort_and_errors_match_redis():
    """Each master has one hand-driven replica that never sends ACK: the failover waits."""
    lunar, ref = start_lunar(), start_redis()
    conns = (Conn(lunar.port), Conn(ref.port))
    raws = [RawReplica(s.port, listening_port=9) for s in (lunar, ref)]
    for r in raws:
        # redis-server (diskless sync) counts a replica online from its first ACK.
        r.send("REPLCONF", "ACK", "0")
    try:
        for srv in (lunar, ref):
            wait_until(lambda: "state=online" in info(srv.port).get("slave0", ""), "the replica online", timeout=10)
        both(conns, "SET", "k", "v")   # the stream moves past what the replica acknowledged (nothing)
        for args in (["FAILOVER", "TO", "127.0.0.1", "10"], ["FAILOVER", "FORCE"],
                     ["FAILOVER", "TO", "127.0.0.1", "9", "FORCE"], ["FAILOVER", "TIMEOUT", "60000"],
                     ["FAILOVER"], ["FAILOVER", "TIMEOUT", "10"], ["FAILOVER", "ABORT"], ["FAILOVER", "ABORT"],
                     ["FAILOVER", "TO", "127.0.0.1", "9"]):
            both(conns, *args)
        assert info(lunar.port)["master_failover_state"] == info(ref.port)["master_failover_state"] == "waiting-for-sync"
        # Writes wait while it waits; reads do not.
        assert both(conns, "GET", "k") == ("bulk", b"v")
        results = {}

        def write(name, port):
            c = Conn(port)
            results[name] = c.call("SET", "k", "w")
            c.close()
        threads = [threading.Thread(target=write, args=(n, s.port)) for n, s in (("lunar", lunar), ("redis", ref))]
        for t in threads:
            t.start()
        wait_until(lambda: all(int(info(s.port, "clients")["blocked_clients"]) == 1 for s in (lunar, ref)),
                   "the writes to be held", timeout=5)
        assert not results
        both(conns, "FAILOVER", "ABORT")
        for t in threads:
            t.join(5)
        assert results == {"lunar": ("simple", b"OK"), "redis": ("simple", b"OK")}
        assert info(lunar.port)["master_failover_state"] == "no-failover"
        assert info(lunar.port)["role"] == "master"
    finally:
        for c in conns:
            c.close()
        for r in raws:
            r.close()
        lunar.stop()
        ref.stop()


def test_timeout_aborts_and_force_tries_the_target():
    lunar = start_lunar()
    c = Conn(lunar.port)
    raw = RawReplica(lunar.port, listening_port=9)
    try:
        c.call("SET", "k", "v")
        assert c.call("FAILOVER", "TIMEOUT", "200") == ("simple", b"OK")
        wait_until(lambda: info(lunar.port)["master_failover_state"] == "no-failover", "the timeout", timeout=5)
        assert c.call("SET", "k", "after") == ("simple", b"OK")
        assert "Replica never caught up before timeout" in lunar.log_text()
        # FORCE: at the deadline it turns to the target anyway; nothing listens there, so the
        # failover is aborted and the server is a master again.
        assert c.call("FAILOVER", "TO", "127.0.0.1", "9", "TIMEOUT", "200", "FORCE") == ("simple", b"OK")
        wait_until(lambda: "time out exceeded, failing over" in lunar.log_text(), "the forced failover", timeout=5)
        wait_until(lambda: info(lunar.port)["master_failover_state"] == "no-failover", "the abort", timeout=10)
        assert info(lunar.port)["role"] == "master"
        assert c.call("SET", "k", "again") == ("simple", b"OK")
    finally:
        raw.close()
        c.close()
        lunar.stop()


@pytest.mark.parametrize("master_kind,replica_kind,named", [
    ("lunar", "lunar", False), ("lunar", "lunar", True), ("lunar", "redis", True), ("redis", "lunar", False)])
def test_roles_switch(master_kind, replica_kind, named):
    old = START[master_kind]()
    new = START[replica_kind]("--replicaof", "127.0.0.1", str(old.port))
    a, b = Conn(old.port), Conn(new.port)
    try:
        wait_link_up(new.port)
        for i in range(50):
            a.call("SET", f"k{i}", str(i))
        a.call("RPUSH", "list", "x", "y")
        a.call("SELECT", "2")
        a.call("HSET", "h", "f", "v")
        args = ["FAILOVER"] + (["TO", "127.0.0.1", str(new.port)] if named else [])
        assert a.call(*args) == ("simple", b"OK")
        wait_until(lambda: info(old.port)["role"] == "slave" and info(old.port).get("master_link_status") == "up",
                   "the old master to follow the new one", timeout=15)
        assert info(new.port)["role"] == "master"
        assert info(old.port)["master_port"] == str(new.port)
        for port in (old.port, new.port):
            wait_until(lambda: info(port)["master_failover_state"] == "no-failover", "the failover to end", timeout=5)
        # The data is intact on the new master, and its writes reach the old one.
        b.call("SELECT", "2")
        assert b.call("HGET", "h", "f") == ("bulk", b"v")
        b.call("SELECT", "0")
        assert b.call("DBSIZE") == ("int", 51)
        assert b.call("SET", "fresh", "1") == ("simple", b"OK")
        a.call("SELECT", "0")
        wait_until(lambda: a.call("GET", "fresh") == ("bulk", b"1"), "the new master's write to arrive", timeout=5)
        assert a.call("SET", "x", "1")[0] == "err"   # READONLY now
        assert a.call("DEBUG", "DIGEST") == b.call("DEBUG", "DIGEST")
    finally:
        a.close()
        b.close()
        new.stop()
        old.stop()
