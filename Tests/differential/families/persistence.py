"""RDB round trips in the middle of the other families' sequences, compared with redis-server 7.0.

Each segment starts from an empty server, runs one family's generator (its model stays valid: only
that family's commands touch the keys) and every few dozen commands both servers DEBUG RELOAD: each
saves its dataset to its RDB file, empties itself and loads the file back. The replies that follow
(values, TTLs, encodings, orders of listpacks and intsets) must still agree, so every type in every
state the families reach goes through Lunar's writer and reader.
"""
import importlib

from families.streams import UNCOMPARED_KEYS  # noqa: F401 (the streams segments' clock-made IDs)
from harness import Cmd, sleep

FAMILIES = ["strings", "lists", "sets", "hashes", "zsets", "streams", "keys"]
# A family follows a short TTL with a pause; a reload right after such a command would race the
# expiry (the servers reload a few ms apart), so none is put there.
SETS_TTL = {"PEXPIRE", "EXPIRE", "PEXPIREAT", "EXPIREAT", "SET", "SETEX", "PSETEX", "GETEX", "RESTORE"}


def generate(rng):
    gens = {}
    while True:
        for name in FAMILIES:
            # The previous segment may have stopped inside MULTI.
            yield Cmd("DISCARD")
            yield Cmd("FLUSHALL")
            yield Cmd("SELECT", "0")
            # A new generator each time: its model starts from the empty server.
            gens[name] = importlib.import_module(f"families.{name}").generate(rng)
            for _ in range(rng.randint(150, 300)):
                cmd = next(gens[name])
                yield cmd
                first = cmd.args[0]
                verb = (first if isinstance(first, str) else first.decode("latin-1")).upper()
                if rng.random() < 0.04 and verb not in SETS_TTL:
                    yield Cmd("DEBUG", "RELOAD")
                    yield Cmd("DBSIZE")
            yield sleep(60)
            yield Cmd("DEBUG", "RELOAD")
            yield Cmd("DBSIZE")
