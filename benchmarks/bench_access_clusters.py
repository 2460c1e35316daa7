"""Travel time and hot-spot clusters at Peru resolution 7, each against its peer, in one run.

Run from the project root::

    python benchmarks/bench_access_clusters.py [--resolution 7]

Runs ``bench_access.py`` (our scipy Dijkstra against networkx on the same graph) and
``bench_clusters.py`` (our Gi* with 999 permutations against esda). Targets: one destination
set's travel time < 5 s; clusters for one profile < 20 s; memory < 2 GB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=7)
    args = parser.parse_args()
    for script in ("bench_access.py", "bench_clusters.py"):
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), "--resolution", str(args.resolution)],
                       check=True)


if __name__ == "__main__":
    main()
