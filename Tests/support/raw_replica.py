"""A replica speaking the replication protocol by hand, for tests that read what a master sends."""
import socket

from support.resp import Conn


class RawReplica:
    """A replica speaking the protocol by hand: handshake, PSYNC/SYNC, then the stream as commands."""

    def __init__(self, port, replid="?", offset=-1, capa=True, sync=False, listening_port=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.consumed = 0
        if listening_port is not None:
            self.send("REPLCONF", "listening-port", str(listening_port))
            assert self.line() == b"+OK"
        if capa:
            self.send("REPLCONF", "capa", "eof", "capa", "psync2")
            assert self.line() == b"+OK"
        self.rdb = None
        if sync:
            self.send("SYNC")
            self.header = None
        else:
            self.send("PSYNC", replid, str(offset))
            self.header = self.line().decode()
        if self.header is None or self.header.startswith("+FULLRESYNC"):
            bulk = self.line()
            assert bulk.startswith(b"$"), bulk
            self.rdb = self.exact(int(bulk[1:]))
        if self.header and self.header.startswith("+FULLRESYNC"):
            _, self.replid, off = self.header.split()
            self.start_offset = int(off)
        elif self.header and self.header.startswith("+CONTINUE"):
            parts = self.header.split()
            self.replid = parts[1] if len(parts) > 1 else None
            self.start_offset = offset - 1
        self.consumed = 0

    def send(self, *args):
        self.sock.sendall(Conn.encode(args))

    def close(self):
        self.sock.close()

    def _fill(self):
        d = self.sock.recv(1 << 16)
        if not d:
            raise ConnectionError("master closed the link")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        self.consumed += i + 2
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        self.consumed += n
        return data

    def command(self, timeout=5.0):
        """The next command of the stream as a list of bytes, or None if nothing came in time."""
        self.sock.settimeout(timeout)
        try:
            head = self.line()
            assert head.startswith(b"*"), head
            args = []
            for _ in range(int(head[1:])):
                b = self.line()
                assert b.startswith(b"$"), b
                args.append(self.exact(int(b[1:])))
                assert self.exact(2) == b"\r\n"
            return args
        except socket.timeout:
            return None
        finally:
            self.sock.settimeout(10)

    def commands(self, n=None, quiet=0.3, skip_control=True):
        """Reads commands until `n` were read (or the stream stays quiet), leaving out the
        keep-alive PING and REPLCONF GETACK the master inserts."""
        out = []
        while n is None or len(out) < n:
            cmd = self.command(timeout=quiet if n is None else 5.0)
            if cmd is None:
                break
            if skip_control and (cmd[0].upper() == b"PING" or cmd[:2] == [b"REPLCONF", b"GETACK"]):
                continue
            out.append(cmd)
        return out
