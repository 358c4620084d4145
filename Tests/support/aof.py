"""Reading append-only files in tests: the RESP commands a file holds, and waiting for a server to
have written what it replied to."""
import os
import time


def parse_commands(data):
    """[(start, end, args)] of each complete RESP command of an AOF file, up to the first incomplete one."""
    out, pos = [], 0
    while pos < len(data):
        start = pos
        try:
            if data[pos:pos + 1] != b"*":
                break
            eol = data.index(b"\r\n", pos)
            n = int(data[pos + 1:eol])
            pos = eol + 2
            args = []
            for _ in range(n):
                if data[pos:pos + 1] != b"$":
                    raise ValueError
                eol = data.index(b"\r\n", pos)
                ln = int(data[pos + 1:eol])
                pos = eol + 2
                if data[pos + ln:pos + ln + 2] != b"\r\n":
                    raise ValueError
                args.append(data[pos:pos + ln])
                pos += ln + 2
        except ValueError:
            break
        out.append((start, pos, args))
    return out


def wait_written(conn):
    """Everything replied to is in the file (aof_buffer_length 0). `conn`: a support.resp.Conn."""
    deadline = time.time() + 5
    while b"aof_buffer_length:0" not in conn.call("INFO", "persistence")[1]:
        assert time.time() < deadline, "AOF buffer not written"
        time.sleep(0.02)


def incr_commands(workdir):
    """The commands of the first incremental file in `workdir`'s appendonlydir, SELECTs left out."""
    path = os.path.join(workdir, "appendonlydir", "appendonly.aof.1.incr.aof")
    deadline = time.time() + 10
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)
    with open(path, "rb") as f:
        return [args for _, _, args in parse_commands(f.read()) if args[0].upper() != b"SELECT"]
