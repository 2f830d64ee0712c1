"""Benchmark priming in real Chromium over DevTools' slow-3G profile (2,000 ms latency, 400 kbit/s each way): an
engineer logs in to the PWA and the phone primes its offline set (40 jobs, 1,500 parts, 460 knowledge entries,
the problem types: about 2,000 records), checked complete kind by kind. Prints the priming time and the time from
the log-in tap (the first sync included). The server-side target (2,000 records under 3 s) is bench/sync_prime.py's.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_main REDIS_URL=redis://127.0.0.1:6379/14 \\
        python bench/sync_prime_browser.py

The run is the test tests/test_sync/test_pwa_prime_browser.py::test_bench_priming_2000_records_over_slow_3g, which
the suite leaves out (marked bench: it takes a minute of a slow network and proves nothing the other priming tests
do not): the same fixtures (the app served on a free port, Debian's chromium) make the data and the browser.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/test_sync/test_pwa_prime_browser.py::test_bench_priming_2000_records_over_slow_3g"

if __name__ == "__main__":
    command = [sys.executable, "-m", "pytest", TEST, "--bench", "-p", "no:xdist", "-q", "-s", *sys.argv[1:]]
    sys.exit(subprocess.call(command, cwd=ROOT))
