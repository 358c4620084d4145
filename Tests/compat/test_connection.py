"""Connection commands: HELLO (RESP3), AUTH, RESET, CLIENT …, against redis-server 7.0."""
import socket
import time

import pytest

from support.resp import Conn, same_replies


@pytest.fixture
def pair(lunar_server, redis_server):
    conns = []

    def open_both():
        a, b = Conn(lunar_server.port), Conn(redis_server.port)
        conns.extend([a, b])
        return a, b

    a, b = open_both()
    yield a, b, open_both
    for c in conns:
        c.close()


run = same_replies


def hello_map(reply):
    assert reply[0] in ("map", "array")
    if reply[0] == "map":
        return {k[1].decode(): v for k, v in reply[1]}
    items = reply[1]
    return {items[i][1].decode(): items[i + 1] for i in range(0, len(items), 2)}


ERROR_CASES = [
    ["HELLO", "1"], ["HELLO", "4"], ["HELLO", "0"], ["HELLO", "abc"], ["HELLO", "-1"],
    ["HELLO", "3", "foo"], ["HELLO", "4", "foo"], ["HELLO", "2", "AUTH", "default"],
    ["HELLO", "2", "AUTH", "bob", "x"], ["HELLO", "2", "SETNAME"], ["HELLO", "2", "SETNAME", "a b"],
    ["HELLO", "3", "SETNAME", "a b", "AUTH", "bob", "x"], ["HELLO", "2", "AUTH", "bob", "x", "SETNAME", "a b"],
    ["AUTH", "x"], ["AUTH", "bob", "x"], ["AUTH", "a", "b", "c"], ["AUTH", "default", "anything"], ["AUTH"],
    ["CLIENT"], ["CLIENT", "FOO"], ["CLIENT", "SETNAME", "a b"], ["CLIENT", "SETNAME", "a\nb"],
    ["CLIENT", "SETNAME"], ["CLIENT", "ID", "x"], ["CLIENT", "KILL", "1.2.3.4:5"],
    ["CLIENT", "KILL", "ID", "999999"], ["CLIENT", "KILL", "ADDR", "1.2.3.4:5"], ["CLIENT", "KILL", "foo", "bar"],
    ["CLIENT", "KILL", "ID", "abc"], ["CLIENT", "KILL", "ID", "0"], ["CLIENT", "KILL", "ID", "-3"],
    ["CLIENT", "KILL", "SKIPME", "maybe"], ["CLIENT", "KILL", "ID", "999999", "SKIPME"],
    ["CLIENT", "KILL", "LADDR", "1.1.1.1:1"], ["CLIENT", "KILL", "USER", "nobody"],
    ["CLIENT", "KILL", "USER", "default", "ID", "999999"], ["CLIENT", "KILL", "TYPE", "foo"],
    ["CLIENT", "KILL", "TYPE", "pubsub"], ["CLIENT", "KILL", "TYPE", "master"], ["CLIENT", "KILL", "MAXAGE", "10"],
    ["CLIENT", "NO-EVICT", "maybe"], ["CLIENT", "NO-EVICT", "on"], ["CLIENT", "NO-EVICT", "OFF"],
    ["CLIENT", "LIST", "ID"], ["CLIENT", "LIST", "ID", "x"], ["CLIENT", "LIST", "ID", "0"], ["CLIENT", "LIST", "ID", "-1"], ["CLIENT", "LIST", "ID", "1.5"], ["CLIENT", "LIST", "foo"],
    ["CLIENT", "LIST", "TYPE", "foo"], ["CLIENT", "LIST", "TYPE", "pubsub"], ["CLIENT", "LIST", "TYPE", "replica"],
    ["CLIENT", "LIST", "ID", "999999"], ["CLIENT", "SETINFO", "lib-name", "x"],
    ["CLIENT", "UNBLOCK", "999999"], ["CLIENT", "UNBLOCK", "x"], ["CLIENT", "UNBLOCK", "999999", "foo"],
    ["CLIENT", "UNBLOCK", "999999", "error"], ["CLIENT", "UNBLOCK", "999999", "TIMEOUT"], ["CLIENT", "GETREDIR"],
    ["PING", "a", "b"], ["ECHO"], ["ECHO", "a", "b"], ["SELECT", "x"], ["SELECT", "-1"], ["SELECT", "16"],
    ["SELECT", "1.5"], ["RESET", "x"],
]


@pytest.mark.parametrize("cmd", ERROR_CASES, ids=lambda c: " ".join(c))
def test_same_reply(pair, cmd):
    a, b, _ = pair
    run((a, b), cmd)


def test_hello_reply_fields(pair):
    a, b, _ = pair
    for proto in ("2", "3"):
        la, ra = hello_map(a.call("HELLO", proto)), hello_map(b.call("HELLO", proto))
        assert list(la) == list(ra) == ["server", "version", "proto", "id", "mode", "role", "modules"]
        for k in ("server", "version", "proto", "mode", "role", "modules"):
            assert la[k] == ra[k], k
        assert la["id"] == a.call("CLIENT", "ID")
        assert la["version"] == ("bulk", b"7.0.15")


def test_hello_switches_to_resp3_and_back(pair):
    a, b, _ = pair
    for c in (a, b):
        c.call("FLUSHALL")
    assert a.call("HELLO", "3")[0] == "map"
    b.call("HELLO", "3")
    out = run((a, b), ["GET", "missing"], ["CONFIG", "GET", "maxmemory"], ["CLIENT", "GETNAME"])
    for c in (a, b):
        assert hello_map(c.call("HELLO", "3", "SETNAME", "conn1"))["proto"] == ("int", 3)
    run((a, b), ["CLIENT", "GETNAME"])
    assert out[0] == ("null",)
    assert out[1][0] == "map"
    info = a.call("CLIENT", "INFO")
    assert info[0] == "verbatim" and b"resp=3" in info[1] and b"name=conn1" in info[1]
    assert a.call("HELLO", "2")[0] == "array"
    b.call("HELLO", "2")
    run((a, b), ["GET", "missing"], ["CONFIG", "GET", "maxmemory"])


def test_hello_without_version_keeps_protocol(pair):
    a, b, _ = pair
    a.call("HELLO", "3")
    b.call("HELLO", "3")
    la, ra = hello_map(a.call("HELLO")), hello_map(b.call("HELLO"))
    assert la["proto"] == ra["proto"] == ("int", 3)


def test_hello_auth_default_user(pair):
    a, b, _ = pair
    la = hello_map(a.call("HELLO", "2", "AUTH", "default", "whatever", "SETNAME", "n1"))
    ra = hello_map(b.call("HELLO", "2", "AUTH", "default", "whatever", "SETNAME", "n1"))
    assert la["proto"] == ra["proto"]
    run((a, b), ["CLIENT", "GETNAME"])


def _fields(line):
    return [kv.split("=", 1)[0] for kv in line.split(" ")]


def test_client_list_format(pair):
    a, b, _ = pair
    la = a.call("CLIENT", "LIST")[1].decode()
    ra = b.call("CLIENT", "LIST")[1].decode()
    assert la.endswith("\n") and ra.endswith("\n")
    lline = [l for l in la.splitlines() if "cmd=client|list" in l][0]
    rline = [l for l in ra.splitlines() if "cmd=client|list" in l][0]
    assert _fields(lline) == _fields(rline)
    info = a.call("CLIENT", "INFO")[1].decode()
    assert info.endswith("\n") and _fields(info.strip()) == _fields(rline)
    d = dict(kv.split("=", 1) for kv in info.strip().split(" "))
    assert d["id"] == str(a.call("CLIENT", "ID")[1])
    assert d["flags"] == "N" and d["db"] == "0" and d["multi"] == "-1" and d["cmd"] == "client|info"
    assert d["resp"] == "2" and d["user"] == "default"
    assert d["laddr"] == "%s:%d" % a.sock.getpeername()
    assert d["addr"] == "%s:%d" % a.sock.getsockname()


def test_client_list_flags_and_fields_track_state(lunar_server):
    c = Conn(lunar_server.port)
    try:
        cid = c.call("CLIENT", "ID")[1]
        c.call("SELECT", "2")
        c.call("CLIENT", "SETNAME", "worker")
        c.call("CLIENT", "NO-EVICT", "on")
        c.call("MULTI")
        c.call("PING")
        c.call("PING")
        # CLIENT is queued inside MULTI; EXEC returns its reply.
        c.call("CLIENT", "INFO")
        reply = c.call("EXEC")
        line = reply[1][2][1].decode().strip()
        d = dict(kv.split("=", 1) for kv in line.split(" "))
        assert d["name"] == "worker" and d["db"] == "2" and "e" in d["flags"]
        c.call("WATCH", "k")
        c2 = Conn(lunar_server.port)
        c2.call("SELECT", "2")
        c2.call("SET", "k", "1")
        c2.close()
        line = c.call("CLIENT", "INFO")[1].decode().strip()
        d = dict(kv.split("=", 1) for kv in line.split(" "))
        assert "d" in d["flags"]
        c2 = Conn(lunar_server.port)
        c.call("MULTI")
        c.call("PING")
        line = c2.call("CLIENT", "LIST", "ID", str(cid))[1].decode().strip()
        c2.close()
        d = dict(kv.split("=", 1) for kv in line.split(" "))
        assert "x" in d["flags"] and d["multi"] == "1"
        assert c.call("DISCARD") == ("simple", b"OK")
    finally:
        c.close()


def _client_fields(conn, cid):
    """CLIENT LIST's fields of client `cid`."""
    lines = [l for l in conn.call("CLIENT", "LIST")[1].decode().splitlines() if l.startswith(f"id={cid} ")]
    assert len(lines) == 1, lines
    return dict(kv.split("=", 1) for kv in lines[0].split(" "))


def _wait_fields(conn, cid, pred, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        d = _client_fields(conn, cid)
        if pred(d) or time.time() > deadline:
            return d
        time.sleep(0.05)


def _info_field(conn, section, name, at_least=None, timeout=3.0):
    """An INFO field; with `at_least`, polled until it reaches that (Redis samples its clients'
    peaks on its cron, up to a tick late)."""
    deadline = time.time() + timeout
    while True:
        text = conn.call("INFO", section)[1].decode()
        value = int(text.split(name + ":")[1].split()[0])
        if at_least is None or value >= at_least or time.time() > deadline:
            return value
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["lunar", "redis"])
def test_client_list_buffer_fields(lunar_server, redis_server, kind):
    """CLIENT LIST's qbuf, argv-mem, oll, omem and tot-mem mean what they mean in Redis 7.0: the
    caller's request and arguments, a blocked client's arguments, and the replies a client that
    does not read leaves pending (also INFO's client_recent_max_output_buffer and
    mem_clients_normal), gone once it has read them."""
    srv = lunar_server if kind == "lunar" else redis_server
    c, blocked = Conn(srv.port), Conn(srv.port)
    sub = socket.socket()
    sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sub.connect(("127.0.0.1", srv.port))
    sub.settimeout(5)
    key = f"buffers:{time.time()}"
    try:
        cid, bid = c.call("CLIENT", "ID")[1], blocked.call("CLIENT", "ID")[1]
        me = _client_fields(c, cid)
        # *2 $6 CLIENT $4 LIST: 26 bytes of request, 10 of arguments.
        assert (me["qbuf"], me["argv-mem"]) == ("26", "10"), me
        info = dict(kv.split("=", 1) for kv in c.call("CLIENT", "INFO")[1].decode().strip().split(" "))
        assert (info["qbuf"], info["argv-mem"]) == ("26", "10"), info

        blocked.send_raw(Conn.encode(["BLPOP", key, "0"]))
        d = _wait_fields(c, bid, lambda d: "b" in d["flags"])
        assert "b" in d["flags"] and d["argv-mem"] == str(5 + len(key) + 1) and d["qbuf"] == "0", d
        assert (d["oll"], d["omem"]) == ("0", "0"), d
        c.call("RPUSH", key, "a")
        assert blocked.read() == ("array", [("bulk", key.encode()), ("bulk", b"a")])

        sub.sendall(Conn.encode(["CLIENT", "ID"]))
        sid = int(sub.recv(100).strip()[1:])
        sub.sendall(Conn.encode(["SUBSCRIBE", "buffers"]))
        _wait_fields(c, sid, lambda d: "P" in d["flags"])
        message = b"x" * 100_000
        for _ in range(100):
            c.call("PUBLISH", "buffers", message)
        d = _wait_fields(c, sid, lambda d: int(d["omem"]) > 1_000_000)
        omem = int(d["omem"])
        assert omem > 1_000_000 and int(d["oll"]) >= 1 and int(d["tot-mem"]) >= omem, d
        assert _info_field(c, "clients", "client_recent_max_output_buffer", at_least=omem) >= omem
        assert _info_field(c, "memory", "mem_clients_normal", at_least=omem) >= omem

        # The subscriber reads everything: nothing is pending any more, the recent peak stays.
        expected = 100 * len(message)
        got = 0
        while got < expected:
            chunk = sub.recv(1 << 20)
            assert chunk, "connection closed"
            got += len(chunk)
        d = _wait_fields(c, sid, lambda d: d["omem"] == "0")
        assert (d["oll"], d["omem"]) == ("0", "0"), d
        assert _info_field(c, "clients", "client_recent_max_output_buffer", at_least=omem) >= omem
    finally:
        for x in (c, blocked):
            x.close()
        sub.close()


def test_client_list_filters(lunar_server):
    a, b = Conn(lunar_server.port), Conn(lunar_server.port)
    try:
        ida, idb = a.call("CLIENT", "ID")[1], b.call("CLIENT", "ID")[1]
        lines = a.call("CLIENT", "LIST", "ID", str(idb), "999999")[1].decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"id={idb} ")
        both = a.call("CLIENT", "LIST", "ID", str(ida), str(idb))[1].decode().splitlines()
        assert [l.split(" ")[0] for l in both] == [f"id={ida}", f"id={idb}"]
        normal = a.call("CLIENT", "LIST", "TYPE", "normal")[1].decode()
        assert f"id={ida} " in normal and f"id={idb} " in normal
        assert a.call("CLIENT", "LIST", "TYPE", "pubsub") == ("bulk", b"")
    finally:
        a.close()
        b.close()


def test_client_setname_getname(pair):
    a, b, _ = pair
    run((a, b), ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "hello-1"], ["CLIENT", "GETNAME"],
        ["CLIENT", "SETNAME", ""], ["CLIENT", "GETNAME"])


def _closed(conn):
    conn.sock.settimeout(2)
    try:
        conn.call("PING")
    except (ConnectionError, OSError):
        return True
    return False


def test_client_kill_by_id_and_addr(lunar_server):
    a, b, c = Conn(lunar_server.port), Conn(lunar_server.port), Conn(lunar_server.port)
    try:
        c.call("PING")
        idb = b.call("CLIENT", "ID")[1]
        assert a.call("CLIENT", "KILL", "ID", str(idb)) == ("int", 1)
        assert _closed(b)
        assert a.call("CLIENT", "KILL", "ID", str(idb)) == ("int", 0)
        addr = "%s:%d" % c.sock.getsockname()
        assert a.call("CLIENT", "KILL", addr) == ("simple", b"OK")
        assert _closed(c)
        assert a.call("CLIENT", "KILL", addr) == ("err", b"ERR No such client")
        # SKIPME defaults to yes: a filter matching only ourselves kills nobody.
        me = a.call("CLIENT", "ID")[1]
        assert a.call("CLIENT", "KILL", "ID", str(me)) == ("int", 0)
        assert a.call("PING") == ("simple", b"PONG")
        # SKIPME no: the reply comes, then the connection closes.
        assert a.call("CLIENT", "KILL", "ID", str(me), "SKIPME", "no") == ("int", 1)
        assert _closed(a)
    finally:
        for x in (a, b, c):
            x.close()


def test_client_kill_by_laddr_and_user(lunar_server):
    a, b = Conn(lunar_server.port), Conn(lunar_server.port)
    try:
        assert b.call("PING") == ("simple", b"PONG")   # b is registered before the kill
        laddr = "127.0.0.1:%d" % lunar_server.port
        n = a.call("CLIENT", "KILL", "LADDR", laddr, "USER", "default")
        assert n[0] == "int" and n[1] >= 1
        assert _closed(b)
        assert a.call("PING") == ("simple", b"PONG")
    finally:
        a.close()
        b.close()


def test_client_unblock(lunar_server):
    a, b = Conn(lunar_server.port), Conn(lunar_server.port)
    try:
        if a.call("COMMAND", "INFO", "blpop")[1][0][0] != "array":
            pytest.skip("BLPOP not implemented yet")
        idb = b.call("CLIENT", "ID")[1]
        b.send_raw(Conn.encode(["BLPOP", "nolist", "0"]))
        time.sleep(0.2)
        assert a.call("CLIENT", "UNBLOCK", str(idb)) == ("int", 1)
        assert b.read() == ("nullarray",)
        b.send_raw(Conn.encode(["BLPOP", "nolist", "0"]))
        time.sleep(0.2)
        assert a.call("CLIENT", "UNBLOCK", str(idb), "ERROR") == ("int", 1)
        assert b.read() == ("err", b"UNBLOCKED client unblocked via CLIENT UNBLOCK")
    finally:
        a.close()
        b.close()


def test_reset(pair):
    a, b, _ = pair
    for c in (a, b):
        c.call("HELLO", "3", "SETNAME", "before")
    run((a, b), ["SELECT", "5"], ["MULTI"], ["PING"], ["RESET"], ["CLIENT", "GETNAME"], ["EXEC"])
    info = a.call("CLIENT", "INFO")[1].decode()
    assert "db=0" in info and "resp=2" in info and "flags=N" in info


def test_quit(lunar_server):
    c = Conn(lunar_server.port)
    assert c.call("QUIT") == ("simple", b"OK")
    assert _closed(c)
    c.close()


def test_redis_py_default_protocol(lunar_server):
    """redis-py 8 negotiates RESP3 with HELLO by default."""
    import redis
    c = redis.Redis(port=lunar_server.port, socket_timeout=10)
    try:
        assert c.ping()
        assert c.set("rp3", "v") and c.get("rp3") == b"v"
        assert c.get("nothing") is None
        assert c.config_get("maxmemory") == {"maxmemory": "0"}
        assert c.info()["redis_version"] == "7.0.15"
        assert c.client_info()["resp"] == "3"
        assert c.client_list()[0]["resp"] in ("2", "3")
        assert c.dbsize() >= 1
        assert c.time()[0] > 1_600_000_000
        assert c.client_setname("py") and c.client_getname() == "py"
        p = c.pipeline()
        p.set("rp3b", "1").get("rp3b")
        assert p.execute() == [True, b"1"]
    finally:
        c.close()


def _raw_until_pong(conn, commands):
    conn.send_raw(b"".join(Conn.encode(c) for c in commands + [["CLIENT", "REPLY", "ON"], ["PING", "END"]]))
    replies = []
    while True:
        r = conn.read()
        replies.append(r)
        if r == ("bulk", b"END"):
            return replies


def test_client_reply_modes(pair):
    a, b, _ = pair
    cmds = [["CLIENT", "REPLY", "foo"], ["CLIENT", "REPLY", "SKIP"], ["SET", "a", "1"], ["GET", "a"],
            ["CLIENT", "REPLY", "OFF"], ["SET", "a", "2"], ["GET", "a"], ["CLIENT", "REPLY", "SKIP"],
            ["CLIENT", "REPLY", "ON"], ["GET", "a"], ["CLIENT", "REPLY", "OFF"], ["CLIENT", "REPLY", "SKIP"],
            ["GET", "a"], ["CLIENT", "REPLY", "ON"], ["GET", "a"], ["CLIENT", "REPLY", "SKIP"], ["GET", "nope"]]
    assert _raw_until_pong(a, cmds) == _raw_until_pong(b, cmds)


def test_replies_stay_in_order_when_the_socket_is_full(lunar_server):
    """Replies go straight to the socket until it is full; the rest waits in NIO, and every later
    reply queues behind it there until it is written. A slow reader must still get every byte in order."""
    big = bytes(range(256)) * (12 * 4096)  # 12 MiB, far more than a socket buffer holds
    setup = Conn(lunar_server.port)
    assert setup.call("SET", "big", big) == ("simple", b"OK")
    setup.close()
    c = Conn(lunar_server.port)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # no autotuning: the reply cannot fit
    expected = []
    for round_ in range(2):
        c.send_raw(Conn.encode(["GET", "big"]))
        expected.append(("bulk", big))
        time.sleep(0.2)  # the big reply is now stuck: nothing is read
        for i in range(30):  # each in its own engine round, while NIO still holds the big reply
            c.send_raw(Conn.encode(["ECHO", f"r{round_}-{i}"]))
            expected.append(("bulk", f"r{round_}-{i}".encode()))
            time.sleep(0.005)
        for want in expected:
            assert c.read() == want
        expected = []
        # Once NIO has written everything, replies take the direct path again.
        assert c.call("PING") == ("simple", b"PONG")
    c.close()


def test_mixed_reply_sizes_with_slow_readers_keep_order(lunar_server):
    """Several clients at once, each pipelining a random mix of small and multi-megabyte replies
    and reading at its own pace (some with a small receive window), so that replies alternate
    between the direct path and NIO's queue: every reply must arrive whole and in order."""
    import random
    import threading

    errors = []

    def client(seed):
        rnd = random.Random(seed)
        c = Conn(lunar_server.port)
        try:
            if seed % 2:
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
            key = f"order:{seed}"
            c.call("DEL", key)
            value = None
            for _ in range(6):
                batch, expected = [], []
                for _ in range(rnd.randint(1, 12)):
                    op = rnd.random()
                    if op < 0.25:
                        size = rnd.choice([0, 1, 100, 20000, 1 << 20, 3 << 20])
                        value = bytes([rnd.randrange(256)]) * size
                        batch.append(["SET", key, value])
                        expected.append(("simple", b"OK"))
                    elif op < 0.6:
                        batch.append(["GET", key])
                        expected.append(("nullbulk",) if value is None else ("bulk", value))
                    else:
                        word = f"{seed}-{rnd.randrange(10**6)}"
                        batch.append(["ECHO", word])
                        expected.append(("bulk", word.encode()))
                for cmd in batch:  # one write per command: they reach the engine in several rounds
                    c.send_raw(Conn.encode(cmd))
                    if rnd.random() < 0.2:
                        time.sleep(0.002)
                time.sleep(rnd.choice([0, 0, 0.05]))  # sometimes let the replies pile up unread
                for want in expected:
                    got = c.read()
                    if got != want:
                        errors.append((seed, str(got)[:60], str(want)[:60]))
                        return
        except Exception as e:  # reported below: a thread's exception would otherwise vanish
            errors.append((seed, repr(e)))
        finally:
            c.close()

    threads = [threading.Thread(target=client, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def test_requirepass_gates_every_command_until_auth():
    """With requirepass, a new connection gets NOAUTH for everything but AUTH, HELLO … AUTH, RESET and
    QUIT; AUTH opens it, RESET closes it again; connections made before CONFIG SET requirepass keep
    working, as in Redis. Both servers started with the password; replies compared one by one."""
    from support.servers import start_lunar, start_redis
    lunar, ref = start_lunar("--requirepass", "s3cret"), start_redis("--requirepass", "s3cret")
    try:
        a, b = Conn(lunar.port), Conn(ref.port)
        run((a, b), ["PING"], ["GET", "k"], ["SET", "k", "v"], ["INFO", "server"], ["CLIENT", "SETNAME", "x"],
            ["SELECT", "1"], ["MULTI"], ["EXEC"], ["NOSUCHCOMMAND"], ["GET"], ["HELLO"], ["HELLO", "3"],
            ["HELLO", "2", "AUTH", "default", "wrong"], ["AUTH", "wrong"], ["AUTH", "default", "wrong"],
            ["AUTH", "other", "s3cret"], ["GET", "k"])
        run((a, b), ["AUTH", "s3cret"], ["SET", "k", "v"], ["GET", "k"], ["RESET"], ["GET", "k"])
        # HELLO with AUTH authenticates and switches protocol in one go.
        x, y = a.call("HELLO", "3", "AUTH", "default", "s3cret"), b.call("HELLO", "3", "AUTH", "default", "s3cret")
        assert x[0] == y[0] == "map"
        run((a, b), ["GET", "k"], ["RESET"], ["AUTH", "default", "s3cret"], ["DBSIZE"])
        # The password removed: everyone gets in; set again: only new connections need AUTH.
        run((a, b), ["CONFIG", "SET", "requirepass", ""])
        a2, b2 = Conn(lunar.port), Conn(ref.port)
        run((a2, b2), ["GET", "k"])
        run((a, b), ["CONFIG", "SET", "requirepass", "again"])
        run((a2, b2), ["GET", "k"])
        a3, b3 = Conn(lunar.port), Conn(ref.port)
        run((a3, b3), ["GET", "k"], ["AUTH", "again"], ["GET", "k"])
        for c in (a, b, a2, b2, a3, b3):
            c.close()
    finally:
        lunar.stop()
        ref.stop()


def test_client_list_cmd_is_the_last_command_sent(lunar_server, redis_server):
    """CLIENT LIST's cmd= names the last command looked up for the client, as Redis 7.0 sets it:
    refused and queued commands too, NULL for an unknown command or subcommand, not EXEC's inner
    commands nor a script's calls."""
    import re
    seen = []
    for srv in (lunar_server, redis_server):
        b, c = Conn(srv.port), Conn(srv.port)
        bid = b.call("CLIENT", "ID")[1]
        got = []
        for args in (["GET", "k"], ["NOSUCH"], ["GET"], ["CLIENT", "FOO"], ["CONFIG"], ["MULTI"], ["SET", "a", "1"],
                     ["EXEC"], ["MULTI"], ["NOSUCH"], ["DISCARD"], ["EVAL", "return redis.call('set','x','1')", "0"],
                     ["CLIENT", "PAUSE", "abc"], ["SUBSCRIBE", "x"], ["GET", "k"]):
            b.call(*args)
            line = [x for x in c.call("CLIENT", "LIST")[1].decode().split("\n") if x.startswith(f"id={bid} ")][0]
            got.append(re.search(r" cmd=(\S+)", line).group(1))
        seen.append(got)
        b.close()
        c.close()
    assert seen[0] == seen[1]
    assert seen[0][1] == "NULL" and seen[0][6] == "set" and seen[0][7] == "exec"
