"""moto's standalone server, serving one request at a time.

`python -m moto.server` always runs werkzeug threaded, and moto's DynamoDB backend checks a
ConditionExpression and then writes without a lock, so two concurrent conditional puts can
both succeed. Real DynamoDB never allows that, and the control plane's exactly-once transition
relies on it. Serving requests one at a time restores AWS's semantics; everything else is
moto.server's own app, with one change of speed, not of answers:

moto's Query on a table (no index) sorts every item of the table and then keeps one partition's, so
each Query costs the whole table: with a thousand services and their audit entries the emulator,
not the control plane, is what a Region-wide scenario measures. Real DynamoDB reads one partition.
`partition_query` hands moto's own Query just that partition's items; moto still sorts, pages,
filters and projects them itself, so the answer is the one moto gives for the whole table.
"""

import os
import signal
import sys

from werkzeug.serving import run_simple

from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


_table_query = Table.query


def partition_query(self, hash_key, *args, **kwargs):
    """Table.query with all_items narrowed to hash_key's partition (base-table queries only)."""
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name or hash_key is None or not self.range_key_attr:
        return _table_query(self, hash_key, *args, **kwargs)
    partition = list(self.items.get(hash_key, {}).values())
    self.all_items = lambda: partition  # one request at a time: nobody else sees this
    try:
        return _table_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


Table.query = partition_query


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
