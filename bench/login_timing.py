"""Benchmark the log-in's answer time for a known username with a wrong password against an unknown username
(issue #20, finding 5: 105 ms against 6 ms before the unknown name was checked against a dummy hash too).

Prints the median and 90th percentile of POST /api/v1/auth/token for each case, and their ratio (target: close to
1, so the time does not tell whether a username exists). Each attempt comes from its own address, so the throttle
does not answer instead of the password check.

    python bench/login_timing.py                         # SQLite in a temporary file
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fs_auth_bench python bench/login_timing.py --tries 40
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def measure(client, username: str, tries: int, first_address: int) -> list[float]:
    times = []
    for i in range(first_address, first_address + tries):
        client.environ_base["REMOTE_ADDR"] = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        started = time.perf_counter()
        answer = client.post("/api/v1/auth/token", json={"username": username, "password": "wrong-password"})
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 401, answer.get_json()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=30)
    args = parser.parse_args()

    from fieldservice import create_app
    from fieldservice.auth.operations import create_user
    from fieldservice.extensions import db

    url = os.environ.get("DATABASE_URL") or "sqlite:///" + str(Path(tempfile.mkdtemp()) / "bench.db")
    app = create_app({"DATABASE_URL": url, "REDIS_URL": None, "SECRET_KEY": "bench", "TESTING": False})
    with app.app_context():
        db.drop_all()
        db.create_all()
        create_user("bench-known", "the-right-password", "dispatcher")
        db.session.commit()
        client = app.test_client()
        measure(client, "bench-known", 3, 0)  # warm up: the dummy hash is made once per process
        measure(client, "bench-nobody", 3, 10)
        known = measure(client, "bench-known", args.tries, 1000)
        unknown = measure(client, "bench-nobody", args.tries, 2000)
        print(f"database: {db.engine.dialect.name}; {args.tries} wrong log-ins each")
        for name, times in (("known username", known), ("unknown username", unknown)):
            p90 = statistics.quantiles(times, n=10)[-1]
            print(f"{name:<18} median {statistics.median(times):7.1f} ms   p90 {p90:7.1f} ms")
        print(f"ratio known/unknown (medians): {statistics.median(known) / statistics.median(unknown):.2f}")
        db.session.remove()
        db.drop_all()


if __name__ == "__main__":
    main()
