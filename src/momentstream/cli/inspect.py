"""``momentstream inspect CUSTOMER``: ask the workers for one customer's living story.

The workers serve ``/customers/<id>`` only when started with an ``inspect_token``; this command sends
the same token (``MOMENTSTREAM_INSPECT_TOKEN``, or its file in the secrets directory) to each worker
address it is given, and prints the first worker's answer that holds the customer.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TextIO

from momentstream.core.customer_view import render_view
from momentstream.ops.settings import WorkerSettings

__all__ = ["inspect_customer"]

PATH = "/customers/"


def _ask(url: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read())
        except ValueError:
            return err.code, {"error": err.reason}


def inspect_customer(settings: WorkerSettings, customer: str, workers: list[str], as_json: bool,
                     out: TextIO = sys.stdout) -> int:  # fmt: skip
    """Print the customer's view from the first worker that has it; 0 found, 1 not found, 2 refused."""
    if settings.inspect_token is None:
        print("momentstream: set MOMENTSTREAM_INSPECT_TOKEN (or --secrets-dir with momentstream_inspect_token) "
              "to the token the workers run with", file=sys.stderr)  # fmt: skip
        return 2
    token = settings.inspect_token.get_secret_value()
    addresses = workers or [f"http://127.0.0.1:{settings.web_port}"]
    unreachable = []
    for address in addresses:
        url = address.rstrip("/") + PATH + urllib.parse.quote(customer, safe="")
        try:
            status, doc = _ask(url, token)
        except (OSError, ValueError) as err:
            unreachable.append(f"{address} ({getattr(err, 'reason', err)})")
            continue
        if status == 200:
            print(json.dumps(doc, indent=2) if as_json else f"{render_view(doc)}\n(from {address})", file=out)
            return 0
        if status in (401, 400) or doc.get("error", "").startswith("inspect is disabled"):
            print(f"momentstream: {address}: {doc.get('error', status)}", file=sys.stderr)
            return 2
    where = f"{len(addresses)} worker{'s' if len(addresses) > 1 else ''}"
    print(f"momentstream: customer {customer!r} not found on {where} (no state yet, or held by a worker not "
          f"listed: pass every worker with --worker)", file=sys.stderr)  # fmt: skip
    for line in unreachable:
        print(f"  not reachable: {line}", file=sys.stderr)
    return 1
