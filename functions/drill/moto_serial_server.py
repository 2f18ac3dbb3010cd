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

Likewise moto's TransactWriteItems deep-copies every table it touches before writing, to roll back
on a failed condition: each transaction costs the whole table (and, at a thousand services, most of
the emulator's time). `item_scoped_transaction` backs up just the items the transaction names and
restores those on failure; moto still checks and writes every operation itself.
"""

import copy
import os
import signal
import sys

from werkzeug.serving import run_simple

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
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

_transact_write_items = DynamoDBBackend.transact_write_items


def _touched_item(table, attrs):
    """The (hash, range) key an operation names, or None when its key is incomplete."""
    if table.hash_key_attr not in attrs:
        return None
    hash_key = DynamoType(attrs[table.hash_key_attr])
    if not table.range_key_attr:
        return hash_key, None
    if table.range_key_attr not in attrs:
        return None
    return hash_key, DynamoType(attrs[table.range_key_attr])


def _read(table, hash_key, range_key):
    if range_key is None:
        return table.items.get(hash_key)
    return table.items.get(hash_key, {}).get(range_key)


def _restore(table, hash_key, range_key, item):
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


def item_scoped_transaction(self, transact_items):
    """moto's transact_write_items, backing up the named items instead of whole tables."""
    saved = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        key = table and _touched_item(table, op.get("Item") or op.get("Key") or {})
        if key is not None:
            saved.append((table, *key, copy.deepcopy(_read(table, *key))))
    # moto's own whole-table backup, and its restore, become no-ops for this one request.
    Table.__deepcopy__ = lambda table, memo: table
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        for table, hash_key, range_key, item in reversed(saved):
            _restore(table, hash_key, range_key, item)
        raise
    finally:
        del Table.__deepcopy__


DynamoDBBackend.transact_write_items = item_scoped_transaction


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
