"""Stage features with ``COPY`` into a temporary table, check them there, then upsert.

geopandas' ``to_postgis`` inserts through pandas ``to_sql`` (row batches, no upsert, no
staging), which is several times slower than GDAL's ``COPY`` and cannot be made all-or-
nothing with an upsert; so this module does the staging by hand with psycopg's COPY.
Identifiers come only from the catalogue's SQLAlchemy tables and are quoted by psycopg.
"""

from __future__ import annotations

import io

import pandas as pd
import psycopg
from psycopg import sql
from sqlalchemy import ARRAY, Table

STAGE = "_sdi_stage"
ROW = "_row"


def qualified(table: Table) -> sql.Identifier:
    """The table's name, with its schema when it has one (published layers live in ``published``)."""
    return sql.Identifier(table.schema, table.name) if table.schema else sql.Identifier(table.name)


class Stager:
    """A temporary copy of a layer's table, living until the transaction ends."""

    def __init__(self, conn: psycopg.Connection, table: Table, columns: list[str], key: str) -> None:
        self.conn = conn
        self.table = table
        self.columns = columns
        self.key = key
        self.rows = 0
        self.array_columns = {c.name for c in table.columns if isinstance(c.type, ARRAY)}
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGE)))
        conn.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                sql.Identifier(STAGE), cols, qualified(table)
            )
        )
        conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} bigint").format(
            sql.Identifier(STAGE), sql.Identifier(ROW)))

    def copy(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` (columns: ``self.columns`` + ``_row``) to the stage."""
        if frame.empty:
            return
        frame = frame[[*self.columns, ROW]].copy()
        for name in self.array_columns & set(frame.columns):
            frame[name] = frame[name].map(pg_array)
        buffer = io.StringIO()
        frame.to_csv(buffer, header=False, index=False)
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in [*self.columns, ROW])
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(sql.Identifier(STAGE), cols)
        with self.conn.cursor().copy(statement) as copy:
            copy.write(buffer.getvalue())
        self.rows += len(frame)

    def duplicate_keys(self, limit: int = 10) -> tuple[int, list[tuple[str, list[int]]]]:
        """Keys that occur more than once: (how many keys, first few with their rows)."""
        query = sql.SQL(
            "SELECT {k}::text, array_agg({r} ORDER BY {r}), count(*) OVER () FROM {s} "
            "GROUP BY {k} HAVING count(*) > 1 ORDER BY min({r}) LIMIT {n}"
        ).format(k=sql.Identifier(self.key), r=sql.Identifier(ROW), s=sql.Identifier(STAGE),
                 n=sql.Literal(limit))
        found = self.conn.execute(query).fetchall()
        total = int(found[0][2]) if found else 0
        return total, [(key, rows) for key, rows, _ in found]

    def existing_keys(self) -> int:
        """How many staged keys already exist in the layer (the rows an upsert updates)."""
        query = sql.SQL("SELECT count(*) FROM {s} JOIN {t} USING ({k})").format(
            s=sql.Identifier(STAGE), t=qualified(self.table), k=sql.Identifier(self.key))
        row = self.conn.execute(query).fetchone()
        assert row is not None  # count(*) always answers one row
        return int(row[0])

    def upsert(self, *, replace: bool) -> None:
        """Move the stage into the layer: replace everything, or insert-or-update by key."""
        table = qualified(self.table)
        if replace:
            self.conn.execute(sql.SQL("DELETE FROM {}").format(table))
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)
        updates = sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
            for c in self.columns if c != self.key
        )
        action = sql.SQL("DO UPDATE SET {}").format(updates) if len(self.columns) > 1 else sql.SQL("DO NOTHING")
        self.conn.execute(
            sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM {s} ORDER BY {r} "
                    "ON CONFLICT ({k}) {a}").format(
                t=table, c=cols, s=sql.Identifier(STAGE), r=sql.Identifier(ROW),
                k=sql.Identifier(self.key), a=action)
        )


def pg_array(value: object) -> str | None:
    """A PostgreSQL array literal from a list, or from a ``;``-separated string."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    items = value if isinstance(value, list | tuple) else [
        part.strip() for part in str(value).split(";") if part.strip()
    ]
    if hasattr(value, "tolist"):
        items = value.tolist()  # numpy arrays from Arrow list columns
    quoted = ('"' + str(i).replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items)
    return "{" + ",".join(quoted) + "}"
