"""A minimal RESP2/RESP3 client that keeps reply types (status vs bulk, error text, null kinds),
so differential tests compare exactly what went over the wire."""
import socket


class RespError(Exception):
    pass


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, (int, float)):
                a = repr(a).encode() if isinstance(a, float) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send_raw(self, data):
        self.sock.sendall(data)

    def call(self, *args):
        self.sock.sendall(self.encode(args))
        return self.read()

    def pipeline(self, commands):
        self.sock.sendall(b"".join(self.encode(c) for c in commands))
        return [self.read() for _ in commands]

    def _fill(self):
        d = self.sock.recv(1 << 16)
        if not d:
            raise ConnectionError("connection closed")
        self.buf += d

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        """Returns a tagged tuple: ('simple', b), ('err', b), ('int', n), ('bulk', b), ('null',),
        ('nullbulk',), ('nullarray',), ('array', [...]), ('map', [(k, v)]), ('set', [...]),
        ('double', b), ('bool', bool), ('push', [...]), ('big', b), ('verbatim', b),
        ('attribute', [(k, v)], reply)."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return ("simple", rest)
        if t == b"-":
            return ("err", rest)
        if t == b":":
            return ("int", int(rest))
        if t == b"$":
            n = int(rest)
            if n < 0:
                return ("nullbulk",)
            return ("bulk", self._exact(n))
        if t == b"*":
            n = int(rest)
            if n < 0:
                return ("nullarray",)
            return ("array", [self.read() for _ in range(n)])
        if t == b"%":
            n = int(rest)
            return ("map", [(self.read(), self.read()) for _ in range(n)])
        if t == b"~":
            return ("set", [self.read() for _ in range(int(rest))])
        if t == b">":
            return ("push", [self.read() for _ in range(int(rest))])
        if t == b"_":
            return ("null",)
        if t == b",":
            return ("double", rest)
        if t == b"#":
            return ("bool", rest == b"t")
        if t == b"(":
            return ("big", rest)
        if t == b"=":
            return ("verbatim", self._exact(int(rest)))
        if t == b"|":
            # An attribute map is metadata in front of a reply: returned as one value with it.
            attrs = [(self.read(), self.read()) for _ in range(int(rest))]
            return ("attribute", attrs, self.read())
        raise RespError(f"bad reply type {line!r}")


def same_replies(conns, *commands):
    """Runs each command on both connections (Lunar, reference) and asserts identical replies;
    returns Lunar's replies."""
    a, b = conns[0], conns[1]
    out = []
    for cmd in commands:
        x, y = a.call(*cmd), b.call(*cmd)
        assert x == y, f"{cmd!r}: lunar {x!r} != redis {y!r}"
        out.append(x)
    return out
