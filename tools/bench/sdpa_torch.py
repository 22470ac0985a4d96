"""Times torch.nn.functional.scaled_dot_product_attention on the CPU for the shapes given, for
`cargo bench -p bgm-models --bench attention`. Prints one JSON object: seconds per shape (median).

usage: sdpa_torch.py RUNS THREADS BATCH,QUERIES,KEYS,DEPTH [...]
"""

import json
import statistics
import sys
import time

import torch


def main() -> None:
    runs, threads = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    seconds = {}
    for spec in sys.argv[3:]:
        batch, queries, keys, depth = (int(x) for x in spec.split(","))
        q = torch.randn(batch, queries, depth)
        k = torch.randn(batch, keys, depth)
        v = torch.randn(batch, keys, depth)
        times = []
        with torch.inference_mode():
            for i in range(runs + 1):
                started = time.perf_counter()
                torch.nn.functional.scaled_dot_product_attention(q, k, v)
                if i > 0:
                    times.append(time.perf_counter() - started)
        seconds[spec] = statistics.median(times)
    print(json.dumps(seconds))


if __name__ == "__main__":
    main()
