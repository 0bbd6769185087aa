"""The web client's files from every signaling node at once (interfaces.md §2).

In `amphi run` each node serves static files on its own thread; "nothing shared" means two
nodes answering at the same moment never see each other's request. Many GETs of different
files go to the main node and both visitor nodes concurrently; every answer must be the
requested file, byte for byte, with its own Content-Type. Under ThreadSanitizer (make tsan)
state shared between the node threads shows up as a report in amphi's stderr, which the
fixture's sanitizer check turns into a failure; under ASan the symptom shows instead: a body
or a Content-Type that belongs to another file.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from conftest import REPO, http

WEB = os.path.join(REPO, "web")

# The types a browser needs to run the client (a script served as text/plain is refused).
TYPES = {".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript",
         ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png",
         ".ico": "image/x-icon", ".json": "application/json"}

NODES = (0, 1, 2)   # main, visitor node 1, visitor node 2
WORKERS = 12        # client threads; more than nodes, so each node has requests queued
ROUNDS = 15         # every (node, file) pair this many times


def web_files():
    """{url path: (bytes, content type)} for every file of web/ the server serves, and the
    two paths that are the client's page without naming it."""
    files = {}
    for name in sorted(os.listdir(WEB)):
        full = os.path.join(WEB, name)
        ext = os.path.splitext(name)[1]
        if name.startswith(".") or not os.path.isfile(full) or ext not in TYPES:
            continue
        with open(full, "rb") as f:
            files["/" + name] = (f.read(), TYPES[ext])
    assert "/index.html" in files, "web/ has no index.html"
    assert len(files) >= 3, "too few files in web/ to mix: %s" % sorted(files)
    files["/"] = files["/index.html"]
    files["/acme/townhall"] = files["/index.html"]
    return files


def test_every_node_serves_the_right_file_under_concurrency(amphi):
    srv = amphi(visitor_nodes=2)
    files = web_files()
    # Interleaved so that at any moment different nodes are asked for different files.
    jobs = [(node, path) for _ in range(ROUNDS) for path in sorted(files) for node in NODES]
    start = threading.Barrier(WORKERS)

    def get(job):
        node, path = job
        status, hdrs, body = http("GET", srv.http_url(path, node), timeout=20)
        return node, path, status, hdrs.get("Content-Type", ""), body

    def worker(part):
        start.wait()
        return [get(job) for job in part]

    parts = [jobs[i::WORKERS] for i in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        results = [r for rs in pool.map(worker, parts) for r in rs]

    assert len(results) == len(jobs)
    wrong = []
    for node, path, status, ctype, body in results:
        want_body, want_type = files[path]
        if status != 200 or body != want_body or ctype.split(";")[0].strip() != want_type:
            got = next((p for p, (b, _) in files.items() if b == body), "%d bytes" % len(body))
            wrong.append("node %d %s: status %d, %s, body of %s" % (node, path, status, ctype,
                                                                    got))
    assert not wrong, "%d of %d answers wrong:\n%s" % (len(wrong), len(results),
                                                      "\n".join(wrong[:20]))
    # Every node is still healthy afterwards.
    for node in NODES:
        status, _, _ = http("GET", srv.http_url("/healthz", node))
        assert status == 200, node
