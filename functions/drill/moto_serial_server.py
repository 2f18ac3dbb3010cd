"""moto's standalone server, serving one request at a time.

`python -m moto.server` always runs werkzeug threaded, and moto's DynamoDB backend checks a
ConditionExpression and then writes without a lock, so two concurrent conditional puts can
both succeed. Real DynamoDB never allows that, and the control plane's exactly-once transition
relies on it. Serving requests one at a time restores AWS's semantics; everything else is
moto.server's own app, unchanged.
"""

import os
import signal
import sys

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
