"""Churn of one big collection against redis-server: random writes and reads in phases, with the
collection cut down to five members after the second phase (see the *_churn tests)."""


def churn(a, b, rng, phases, pick, compare, members, remove, lookup, count, lookup_kept=None):
    """Runs `phases` ((operations, grow share) pairs) on connections `a` and `b`: `pick(rng, share)`
    gives each command, and every reply must match. After each phase `compare(phase)` checks the
    whole collection; after the second, `members()` (a list in a fixed order) are removed with `remove(m)` down to
    five, checking `lookup` of the removed one and `lookup_kept` (default `lookup`) of a remaining
    one each time, then `count`."""
    lookup_kept = lookup_kept or lookup
    for phase, (ops, share) in enumerate(phases):
        for _ in range(ops):
            cmd = pick(rng, share)
            assert a.call(*cmd) == b.call(*cmd), (phase, cmd)
        compare(phase)
        if phase == 1:
            names = members()
            rng.shuffle(names)
            for i, m in enumerate(names[:-5]):
                for cmd in (remove(m), lookup(m), lookup_kept(names[-1 - i % 5])):
                    assert a.call(*cmd) == b.call(*cmd), cmd
            assert a.call(*count) == b.call(*count) == ("int", 5)
