"""Load generator, run as its own process: N GET requests over C keep-alive connections.

Prints one JSON object: latencies (seconds), errors, elapsed.
"""

import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlsplit


def worker(url, headers, count, latencies, errors, lock):
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    mine = []
    failed = 0
    for _ in range(count):
        started = time.perf_counter()
        try:
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status >= 400:
                failed += 1
        except (OSError, http.client.HTTPException):
            failed += 1
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine.append(time.perf_counter() - started)
    conn.close()
    with lock:
        latencies.extend(mine)
        errors.append(failed)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    latencies, errors, lock = [], [], threading.Lock()
    per = [args.requests // args.concurrency + (1 if i < args.requests % args.concurrency else 0)
           for i in range(args.concurrency)]
    threads = [threading.Thread(target=worker, args=(args.url, headers, n, latencies, errors, lock)) for n in per]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"latencies": latencies, "errors": sum(errors), "elapsed": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
