"""Request rates of the REST API: anonymous clients by IP, signed-in clients by user; the rates are
read at request time so settings overrides (tests, env) take effect.

Fixed windows, counted where every worker process sees them:

- On the database cache (the default ``CACHE_URL``), in the table ``cmo_kb_throttle`` by one atomic
  upsert per request (``INSERT … ON CONFLICT (key) DO UPDATE SET count = count + 1 … RETURNING``,
  the same statement on PostgreSQL and SQLite), one row per throttle that counts the client: an
  anonymous client is counted by address under both rates, in the same statement (ThrottledViewMixin).
  The table is unlogged on PostgreSQL, so the commit waits for no WAL flush (migration 0003). DRF's
  own throttles keep a list of timestamps in the cache: a get and a set, and the database cache's
  set is itself a transaction of several queries plus an occasional cull, about six queries per
  throttle per request.
- On another cache (Redis, Memcached, the per-process cache of the tests), with ``cache.add`` and
  ``cache.incr`` on a key per window, atomic on Redis and Memcached (django-ratelimit's way).

The trade-off of a fixed window against DRF's sliding one: a client may send up to twice its rate
across the boundary of two windows. Retry-After is the time left in the current window.
"""

import random
import time

from django.core.cache import caches
from django.core.cache.backends.db import BaseDatabaseCache
from django.db import connection
from rest_framework import throttling
from rest_framework.settings import api_settings

from cmo_kb.models import ThrottleCount

PRUNE_ONE_IN = 1000  # requests; deletes the rows of past windows (one more query, rarely)

_TABLE = ThrottleCount._meta.db_table


def _rate(scope):
    return api_settings.DEFAULT_THROTTLE_RATES.get(scope)


def count_in_table(windows, now):
    """Counts one request for each key of ``windows`` ({key: end of its current window}) and returns
    {key: the window's count}: one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_TABLE} (key, window_end, count) VALUES {', '.join(['(%s, %s, 1)'] * len(windows))} "
            f"ON CONFLICT (key) DO UPDATE SET "
            f"count = CASE WHEN {_TABLE}.window_end = excluded.window_end THEN {_TABLE}.count + 1 ELSE 1 END, "
            f"window_end = excluded.window_end RETURNING key, count",
            [value for key, window_end in windows.items() for value in (key, window_end)],
        )
        counts = dict(cursor.fetchall())
        if random.randrange(PRUNE_ONE_IN) == 0:
            cursor.execute(f"DELETE FROM {_TABLE} WHERE window_end < %s", [int(now)])
    return counts


def count_in_cache(cache, key, window, duration):
    key = f"{key}:{window}"
    if cache.add(key, 1, duration + 1):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, duration + 1)
        return 1


class FixedWindowThrottleMixin:
    """DRF's SimpleRateThrottle with one counter per fixed window instead of a timestamp list."""

    def get_rate(self):
        return _rate(self.scope)

    def start(self, request, view):
        """Whether this throttle counts the request; if so, its key and window are set."""
        if self.rate is None:
            return False
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return False
        self.now = self.timer()
        self.window = int(self.now // self.duration)
        self.window_end = (self.window + 1) * self.duration  # windows of every scope end on a multiple of it
        return True

    def allow_request(self, request, view):
        return allow_requests([self], request, view)[0]

    def wait(self):
        return max(1.0, self.window_end - self.now)

    def timer(self):
        return time.time()


def allow_requests(throttles, request, view):
    """[whether each throttle lets the request through], counting it under every throttle that
    counts it: on the database cache in one query, otherwise one cache.add/incr per throttle."""
    counting = [throttle for throttle in throttles if throttle.start(request, view)]
    cache = caches["default"]
    keys = {throttle.key for throttle in counting}
    if counting and isinstance(cache, BaseDatabaseCache) and len(keys) == len(counting):
        counts = count_in_table({throttle.key: throttle.window_end for throttle in counting}, counting[0].now)
    else:  # (two throttles of one key: one upsert may not update a row twice)
        counts = {}
        for throttle in counting:
            if isinstance(cache, BaseDatabaseCache):
                counts[throttle.key] = count_in_table({throttle.key: throttle.window_end}, throttle.now)[throttle.key]
            else:
                counts[throttle.key] = count_in_cache(cache, throttle.key, throttle.window, throttle.duration)
    return [throttle not in counting or counts[throttle.key] <= throttle.num_requests for throttle in throttles]


class ThrottledViewMixin:
    """For API views: their throttles count a request together (allow_requests), so an anonymous
    client, counted under both rates, costs one query on the database cache rather than two."""

    def check_throttles(self, request):
        throttles = self.get_throttles()
        if not all(isinstance(throttle, FixedWindowThrottleMixin) for throttle in throttles):
            return super().check_throttles(request)
        durations = [throttle.wait() for throttle, allowed in zip(throttles, allow_requests(throttles, request, self))
                     if not allowed]
        if durations:
            self.throttled(request, max(durations))


class AnonThrottle(FixedWindowThrottleMixin, throttling.AnonRateThrottle):
    """Anonymous clients, by IP; the rate is REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['anon']."""


class UserThrottle(FixedWindowThrottleMixin, throttling.UserRateThrottle):
    """Signed-in clients (token or session) by user, others by IP; rate from DEFAULT_THROTTLE_RATES['user']."""


API_THROTTLES = [AnonThrottle, UserThrottle]
