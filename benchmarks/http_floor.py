"""The floor of the `stripe://` latency-bound mark: the same two requests a charge
(the customer, then a confirmed PaymentIntent under an idempotency key), sent by a bare
urllib3 loop on 64 threads, with nothing recorded. It is what the HTTP stack alone
achieves on this machine, against the same server, in the same run.

    python benchmarks/http_floor.py API_BASE API_KEY CHARGES CONCURRENCY
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import urllib3


def main(argv: list[str]) -> None:
    base, key, charges, concurrency = argv[0], argv[1], int(argv[2]), int(argv[3])
    http = urllib3.PoolManager(maxsize=concurrency, retries=False)
    auth = {"Authorization": f"Bearer {key}", "User-Agent": "floor"}

    def charge(n: int) -> None:
        customer = json.loads(
            http.request("GET", f"{base}/v1/customers/cus_{n}", headers=auth).data
        )
        body = urlencode(
            {
                "amount": 1000,
                "currency": "eur",
                "customer": f"cus_{n}",
                "payment_method": customer["invoice_settings"]["default_payment_method"],
                "confirm": "true",
                "off_session": "true",
                "metadata[antaeus_invoice_id]": str(n),
            }
        )
        headers = {
            **auth,
            "Idempotency-Key": f"floor-{n}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        answer = http.request("POST", f"{base}/v1/payment_intents", body=body, headers=headers)
        if json.loads(answer.data).get("status") != "succeeded":
            raise RuntimeError(f"charge {n}: {answer.status} {answer.data[:200]!r}")

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(charge, range(1, charges + 1)))
    sys.stdout.write(f"{charges / (time.perf_counter() - start)}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
