"""What the Python benchmarks share (bench/soak.py, bench/cluster.py): a free range of
ports on 127.0.0.1."""

import random
import socket


def free_base(n, kind=socket.SOCK_STREAM):
    """A port P with P .. P+n-1 free for `kind` sockets on 127.0.0.1, below the ephemeral
    range (load generators' thousands of connections take their local ports there)."""
    for _ in range(200):
        base = random.randrange(20000, 32000 - n)
        ok = True
        for p in range(base, base + n):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            return base
    raise SystemExit("%s: no free port range" % __name__)
