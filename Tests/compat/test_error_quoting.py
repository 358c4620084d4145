"""Error replies that quote a client's argument copy it as Redis 7.0's `%s` does: its raw bytes up to
its first NUL (`%.128s`: at most 128 of them), CR and LF turned into spaces, nothing decoded as UTF-8.
Each case runs on Lunar and on redis-server 7.0 and the replies must be identical."""
import pytest

from support.resp import Conn

ARGUMENTS = {
    "non_utf8_and_nul": b"x\xff\xfe\x00z",
    "long_non_utf8": b"\xff" * 150 + b"y" * 100,
    "whitespace_and_crlf": b"a b\r\nc\x00d",
}

CASES = [
    ["CONFIG", "SET", "{}", "1"], ["CONFIG", "SET", "maxmemory", "{}"], ["CONFIG", "SET", "maxmemory-policy", "{}"],
    ["ACL", "SETUSER", "quoting-user", "{}"], ["ACL", "SETUSER", "quoting-user", "+{}"],
    ["ACL", "SETUSER", "quoting-user", "+@{}"], ["ACL", "SETUSER", "quoting-user", "({}"],
    ["ACL", "SETUSER", "{}"], ["ACL", "GETUSER", "{}"], ["ACL", "DELUSER", "{}"],
    ["ACL", "CAT", "{}"], ["ACL", "DRYRUN", "{}", "get"], ["ACL", "DRYRUN", "default", "{}"], ["ACL", "{}"],
    ["COMMAND", "{}"], ["DEBUG", "{}"], ["SLOWLOG", "{}"], ["PUBSUB", "{}"], ["PFDEBUG", "{}", "k"],
    ["HELLO", "3", "{}"], ["CLIENT", "LIST", "TYPE", "{}"], ["CLIENT", "KILL", "TYPE", "{}"],
    ["CLIENT", "KILL", "USER", "{}"], ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "{}", "PREFIX", "{}"],
    ["OBJECT", "{}", "k"], ["NO-SUCH-COMMAND", "{}"], ["{}"],
]


def _fill(case, arg):
    return [arg if part == "{}" else part.replace("{}", "\x00").encode().replace(b"\x00", arg) for part in case]


@pytest.mark.parametrize("name", sorted(ARGUMENTS))
def test_errors_quote_arguments_as_redis(lunar_server, redis_server, name):
    arg = ARGUMENTS[name]
    for case in CASES:
        a, b = Conn(lunar_server.port), Conn(redis_server.port)
        try:
            cmd = _fill(case, arg)
            x, y = a.call(*cmd), b.call(*cmd)
            assert x == y, f"{cmd!r}: lunar {x!r} != redis {y!r}"
        finally:
            for c in (a, b):
                c.call("ACL", "DELUSER", "quoting-user")
                c.close()
