"""Outlive a database that goes away under a long-running process.

Django checks a persistent connection at the start of each web request. A
worker loop has no requests: once the server restarts, the loop would go on
using the dead connection and fail with "server has gone away" for ever. Such
loops call ``connections_drop_broken`` after a database error, so that the
next query opens a fresh connection as soon as the server answers again.
"""

from django.db import InterfaceError, OperationalError, connections

# The errors of a database that cannot be reached or dropped the connection,
# as opposed to one that refused a statement (IntegrityError, DataError).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def connections_drop_broken() -> None:
    """Close this thread's connections that a database error left unusable.

    A connection inside a transaction is left alone: the transaction's owner
    rolls it back first, and closing it under the owner would hide the error.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
