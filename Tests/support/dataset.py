"""Reading a whole keyspace back for comparisons between servers or across restarts."""
import redis


def keyspace(port, encodings=False):
    """Every key of every database: {(db, key): (type, value, absolute expiry in ms[, OBJECT ENCODING])}."""
    out = {}
    for db in range(16):
        c = redis.Redis(port=port, db=db)
        for k in c.keys("*"):
            t = c.type(k).decode()
            if t == "string":
                v = c.get(k)
            elif t == "list":
                v = c.lrange(k, 0, -1)
            elif t == "set":
                v = sorted(c.smembers(k))
            elif t == "hash":
                v = sorted(c.hgetall(k).items())
            elif t == "zset":
                v = [(m, repr(s)) for m, s in c.zrange(k, 0, -1, withscores=True)]
            else:
                v = None
            row = (t, v, c.execute_command("PEXPIRETIME", k))
            out[(db, k)] = row + (c.object("encoding", k),) if encodings else row
        c.close()
    return out
