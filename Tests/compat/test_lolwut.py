"""LOLWUT against redis-server 7.0: the version text, errors and argument limits are identical; the
art is random on both servers, so what is compared is what does not depend on the dice (version 5's
first two rows of squares are drawn straight, the captions, the canvas sizes)."""
import re

from support.resp import Conn
from support.servers import start_lunar, start_redis


def _text(reply):
    kind, body = reply[0], reply[1]
    assert kind in ("bulk", "verbatim"), reply
    return body.decode()


def test_lolwut_matches_redis():
    lunar, ref = start_lunar(), start_redis()
    a, b = Conn(lunar.port), Conn(ref.port)
    try:
        for args in (["LOLWUT"], ["LOLWUT", "foo"], ["LOLWUT", "VERSION", "7"], ["LOLWUT", "VERSION", "-1"],
                     ["LOLWUT", "VERSION", "x"], ["LOLWUT", "VERSION", "5", "x"], ["LOLWUT", "VERSION", "6", "1", "y"],
                     ["LOLWUT", "VERSION", "7", "x"], ["LOLWUT", "VERSION", "5", "0", "0", "0"],
                     ["LOLWUT", "VERSION"]):
            assert a.call(*args) == b.call(*args), args
        for resp in (2, 3):
            for c in (a, b):
                c.call("HELLO", str(resp))
            # Version 5: the first rows of squares are not rotated, so the top of the picture is equal.
            for args in (["LOLWUT", "VERSION", "5"], ["LOLWUT", "VERSION", "5", "30", "4", "4"],
                         ["LOLWUT", "VERSION", "4294967301", "100", "20", "3"], ["LOLWUT", "VERSION", "5", "5000", "500", "1"]):
                x, y = _text(a.call(*args)).split("\n"), _text(b.call(*args)).split("\n")
                assert len(x) == len(y) and x[-2:] == y[-2:], args
                assert x[0] == y[0] and x[1] == y[1], args
            # Version 6: the canvas size (cells per row, rows) and the captions.
            for args in (["LOLWUT", "VERSION", "6"], ["LOLWUT", "VERSION", "6", "30", "8"], ["LOLWUT", "VERSION", "6", "0", "-4"]):
                x, y = _text(a.call(*args)).split("\n"), _text(b.call(*args)).split("\n")
                assert len(x) == len(y) and x[-3:] == y[-3:], args
                cells = [len(re.findall("\x1b\\[0m", line)) for line in x[:-3]]
                assert cells == [len(re.findall("\x1b\\[0m", line)) for line in y[:-3]], args
    finally:
        a.close()
        b.close()
        lunar.stop()
        ref.stop()
