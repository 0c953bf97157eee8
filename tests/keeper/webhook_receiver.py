"""A webhook receiver for the keeper tests, run as its own process (so the time shim can
give it the keeper's clock): verifies each delivery with the reference Standard
Webhooks library, answers 500 to the first delivery of every event id (to make the
keeper redeliver) and 204 after, and appends one JSON line per delivery to a file.

    python -m tests.keeper.webhook_receiver PORT SECRET_FILE LOG_FILE
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> None:
    port, secret_file, log_file = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    verifier = Webhook(secret_file.read_text().strip())
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verifier.verify(body, headers)
                verified = True
            except WebhookVerificationError as error:
                verified = str(error)  # type: ignore[assignment]
            event_id = headers.get("webhook-id", "")
            first = event_id not in seen
            seen.add(event_id)
            with log_file.open("a") as log:
                record = {
                    "id": event_id,
                    "verified": verified,
                    "first": first,
                    "body": json.loads(body),
                    "timestamp": headers.get("webhook-timestamp"),
                }
                log.write(json.dumps(record) + "\n")
            self.send_response(500 if first else 204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
