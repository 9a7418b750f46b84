"""Load generator, run as its own process: N GET requests per URL over C keep-alive connections.

With several URLs, every connection sends them in turn (a, b, a, b, …), so each URL meets the
same moments of the machine as the others: a scenario and its baseline are compared under the
same conditions, whatever else runs meanwhile.

Every connection is opened anew after RECONNECT_EVERY rounds: the server's workers accept
connections as they come, so how many land on each worker varies from one opening to the next,
and a measurement then spans several such draws rather than being decided by one.

Prints one JSON object: per URL its latencies (seconds) and errors, and the elapsed time.
"""

import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlsplit

RECONNECT_EVERY = 10


def worker(urls, headers, rounds, latencies, errors, lock):
    parts = urlsplit(urls[0])
    targets = [urlsplit(url) for url in urls]
    targets = [t.path + (f"?{t.query}" if t.query else "") for t in targets]
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    mine = [[] for _ in urls]
    failed = [0 for _ in urls]
    for done in range(rounds):
        if done and done % RECONNECT_EVERY == 0:
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        for n, target in enumerate(targets):
            started = time.perf_counter()
            try:
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    failed[n] += 1
            except (OSError, http.client.HTTPException):
                failed[n] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            mine[n].append(time.perf_counter() - started)
    conn.close()
    with lock:
        for n in range(len(urls)):
            latencies[n].extend(mine[n])
            errors[n] += failed[n]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("urls", nargs="+", help="on one host and port")
    parser.add_argument("--requests", type=int, default=1000, help="per URL")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    latencies, errors, lock = [[] for _ in args.urls], [0 for _ in args.urls], threading.Lock()
    per = [
        args.requests // args.concurrency + (1 if i < args.requests % args.concurrency else 0)
        for i in range(args.concurrency)
    ]
    threads = [
        threading.Thread(target=worker, args=(args.urls, headers, n, latencies, errors, lock))
        for n in per
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(
        json.dumps(
            {"latencies": latencies, "errors": errors, "elapsed": time.perf_counter() - started}
        )
    )


if __name__ == "__main__":
    main()
