"""Hooks for schemathesis when FerretDB stands in for MongoDB (test/fuzz/ loads them for that run only).

FerretDB 1.x on SQLite cannot store everything MongoDB can: it refuses arrays inside arrays ("nested
arrays are not supported"), and it stores a key with a control character but then fails every read
of the collection. The service passes both to the database as MongoDB takes them, so here schemathesis
generates no such body; against a real MongoDB (MONGODB_URL) nothing is filtered.
"""

import schemathesis


def _ferretdb_cannot_store(value, in_array=False):
    if isinstance(value, list):
        return in_array or any(_ferretdb_cannot_store(item, True) for item in value)
    if isinstance(value, dict):
        return any(
            any(ord(char) < 0x20 for char in key) or _ferretdb_cannot_store(item)
            for key, item in value.items()
        )
    return False


@schemathesis.hook
def filter_body(context, body):
    return not _ferretdb_cannot_store(body)
