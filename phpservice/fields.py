"""Model fields shared by the apps."""

from django.db import models


def binary_collation(connection) -> str | None:
    """Return the collation comparing text byte for byte, trailing spaces too."""
    if connection.vendor != "mysql":
        return None  # SQLite and PostgreSQL compare that way by default
    # The plain utf8mb4_bin pads: it takes "c-1 " for "c-1".
    return "utf8mb4_nopad_bin" if connection.mysql_is_mariadb else "utf8mb4_0900_bin"


class ExactCharField(models.CharField):
    """A CharField whose values are equal only when they are the same bytes.

    For identifiers that come from outside (order ids, customer ids, invoice
    ids): MySQL's default utf8mb4 collations would take "ivan-1" for "IVAN-1",
    "ё" for "е" and ignore trailing spaces, so one customer could read
    another's order, and two distinct orders would collide.
    """

    def db_parameters(self, connection):
        parameters = super().db_parameters(connection)
        if self.db_collation is None:
            parameters["collation"] = binary_collation(connection)
        return parameters
