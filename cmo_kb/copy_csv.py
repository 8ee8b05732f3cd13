"""CSV rows written by PostgreSQL's ``COPY ... TO STDOUT (FORMAT csv)``, byte for byte what
``csv.writer`` (cmo_kb/csv_export.py) writes for the same cells.

Why: at a million excerpts Python's csv.writer alone costs twice what COPY costs for the whole
export (formatting each datetime and reading each tuple cost as much again), so the export stays
10x its COPY floor whatever is done per row in Python. Here PostgreSQL formats every cell and
Python only moves bytes.

COPY's CSV quoting is csv.writer's QUOTE_MINIMAL (a cell is quoted when it holds a comma, a quote,
a CR or an LF; quotes are doubled), with three differences this module removes:

- COPY writes a NULL as an empty cell and an empty string as ``""``; csv.writer writes both as an
  empty cell. Every text cell goes through ``NULLIF(…, '')``.
- COPY ends a row with LF, csv.writer with CRLF. The driver hands COPY's output over one row per
  call (libpq's PQgetCopyData returns whole rows), so each row's last byte is its end, whatever LFs
  its cells hold; ``_Blocks`` ends it with CRLF instead.
- No parameters in COPY: the query is rendered with the driver's own quoting (``mogrify``).

The cells are SQL expressions over the list's own filtered, ordered queryset (``values_list``), so
the rows are the list's rows in the list's order, as tests/api/test_copy_export.py and
tests/api/test_csv_export.py check against the Python path and the pages.
"""

import queue
import threading
import time

from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connections

BLOCK_BYTES = 1 << 20
QUEUE_BLOCKS = 4


def text(column):
    """A text cell: NULL and '' both as an empty cell."""
    return f"NULLIF({column}, '')"


def number(column):
    return f"{column}::text"


def when(column):
    """A timestamp as DRF's DateTimeField writes it: ISO 8601 in the current time zone (the %(zone)s
    parameter), microseconds only when there are some, "Z" for a zero offset, seconds in the offset
    only when there are some. (A positive offset in whole minutes takes the short way; to_char
    writes a negative one's minutes as "-04:-30", so that one is spelled out.)"""
    local = f"({column} AT TIME ZONE %(zone)s)"
    offset = f"({local} - ({column} AT TIME ZONE 'UTC'))"
    seconds = f"extract(epoch from {offset})::int"
    return (
        f"""replace(to_char({local}, 'YYYY-MM-DD"T"HH24:MI:SS.US'), '.000000', '')"""
        f""" || CASE WHEN {offset} = interval '0' THEN 'Z'"""
        f""" WHEN {seconds} > 0 AND mod({seconds}, 60) = 0 THEN '+' || to_char({offset}, 'HH24:MI')"""
        f""" ELSE CASE WHEN {seconds} < 0 THEN '-' ELSE '+' END"""
        f""" || lpad((abs({seconds}) / 3600)::text, 2, '0') || ':' || lpad(mod(abs({seconds}), 3600) / 60 || '', 2, '0')"""
        f""" || CASE WHEN mod(abs({seconds}), 60) = 0 THEN '' ELSE ':' || lpad(mod(abs({seconds}), 60) || '', 2, '0') END END"""
    )


def json_string(column):
    """json.dumps(value, ensure_ascii=False) of a text value (to_json escapes as json.dumps does:
    quote, backslash and control characters, \\uXXXX in lower case; null for NULL)."""
    return f"coalesce(to_json({column})::text, 'null')"


def zone_name(zone):
    """The IANA name of a tzinfo, or None (then COPY cannot write its datetimes)."""
    return getattr(zone, "key", None)


class _Blocks:
    """COPY's rows, one ``write`` per row, ended with CRLF as csv.writer ends them, put on ``queue``
    in blocks of about BLOCK_BYTES. Once ``stopped`` is set (the download was abandoned) they are
    dropped."""

    def __init__(self, queue, stopped):
        self.queue, self.stopped = queue, stopped
        self.rows, self.size = [], 0

    def write(self, row):
        self.rows.append(row[:-1])  # without its LF
        self.size += len(row)
        if self.size >= BLOCK_BYTES:
            self.flush()

    def flush(self):
        if self.rows and not self.stopped.is_set():
            self.queue.put(b"\r\n".join(self.rows) + b"\r\n")
        self.rows, self.size = [], 0


def _log(connection, sql, started):
    # COPY runs on the driver's cursor, past Django's query log; tests count it there like any query.
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


_DONE = object()


def copy_stream(queryset, ordering, values, cells, params):
    """Blocks of CSV bytes (no header) for ``queryset``'s rows in ``ordering``.

    ``values``: the queryset's value names; its rows are ``values_list(*values)``, the table ``x``
    with columns ``c0``, ``c1``, …. ``cells``: SQL expressions over them. ``params``: the %(name)s
    parameters of the cells' SQL.

    One COPY for every row, run by a thread on this request's connection (the request's own thread
    does not touch it meanwhile) into a queue of QUEUE_BLOCKS blocks: the response sends a block
    while PostgreSQL writes the next ones, and memory stays a few blocks whatever the size. A
    download abandoned halfway cancels the COPY. Queries: JIT compilation and parallel workers off
    for the export (the planner's estimate for a million rows of cells would have it compile for
    seconds; workers would hand every wide row to the one backend that computes the cells, on the
    cores the server needs), the COPY, both back on."""
    connection = connections[queryset.db]
    try:
        inner, inner_params = queryset.order_by(*ordering).values_list(*values).query.sql_with_params()
    except EmptyResultSet:
        # A filter no row can meet, known before any SQL (a count compared with a number past the
        # range of its column): no rows, as the list answers, not a stream broken after its header.
        return

    aliases = ", ".join(f"c{i}" for i in range(len(values)))
    order = ", ".join(
        f"x.c{values.index(name.lstrip('-'))}{' DESC' if name.startswith('-') else ''}" for name in ordering
    )
    with connection.cursor() as cursor:
        sql = (
            f"SELECT {', '.join(cells)} FROM ({cursor.mogrify(inner, inner_params).decode().replace('%', '%%')}) "
            f"AS x({aliases}) ORDER BY {order}"
        )
        sql = cursor.mogrify(sql, params).decode()
        cursor.execute("SET jit = off; SET max_parallel_workers_per_gather = 0")
    raw = connection.connection
    blocks, stopped, failure = queue.Queue(QUEUE_BLOCKS), threading.Event(), []

    def run():
        sink = _Blocks(blocks, stopped)
        try:
            with raw.cursor() as cursor:
                cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", sink)
            sink.flush()
        except Exception as error:  # handed to the request's thread, which raises it
            failure.append(error)
        finally:
            blocks.put(_DONE)

    started = time.monotonic()
    worker = threading.Thread(target=run, name="copy-csv", daemon=True)
    worker.start()
    finished = False
    try:
        while (block := blocks.get()) is not _DONE:
            yield block
        finished = True
        _log(connection, sql, started)
        if failure and not stopped.is_set():
            raise failure[0]
    finally:
        if not finished:  # abandoned: stop the COPY, and let the worker past a full queue
            stopped.set()
            raw.cancel()
            while worker.is_alive() or not blocks.empty():
                try:
                    blocks.get(timeout=0.1)
                except queue.Empty:
                    pass
        worker.join()
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET jit; RESET max_parallel_workers_per_gather")
        except DatabaseError:  # the cancelled COPY took its transaction with it: start afresh
            if finished:
                raise
            connection.close()
