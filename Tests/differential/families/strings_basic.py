"""GET/SET basics, wrong arity and unknown commands."""
from harness import Cmd

KEYS = ["k1", "k2", "k3"]


def generate(rng):
    while True:
        k = rng.choice(KEYS)
        r = rng.random()
        if r < 0.4:
            yield Cmd("SET", k, rng.choice(["a", "", "12", "x" * 50]))
        elif r < 0.8:
            yield Cmd("GET", k)
        elif r < 0.9:
            yield Cmd("GET")
        else:
            yield Cmd("NOSUCHCMD", k, "arg")
