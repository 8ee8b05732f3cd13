"""Request rates of the REST API: anonymous clients by IP, signed-in clients by user; the rates are
read at request time so settings overrides (tests, env) take effect.

Fixed windows, counted where every worker process sees them:

- On the database cache (the default ``CACHE_URL``), in the table ``cmo_kb_throttle`` by one atomic
  upsert per throttle (``INSERT … ON CONFLICT (key) DO UPDATE SET count = count + 1 … RETURNING``,
  the same statement on PostgreSQL and SQLite). DRF's own throttles keep a list of timestamps in the
  cache: a get and a set, and the database cache's set is itself a transaction of several queries
  plus an occasional cull, about six queries per throttle per request.
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


def count_in_table(key, window_end, now):
    """Counts one request for ``key`` in the window ending at ``window_end`` and returns the
    window's count: one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_TABLE} (key, window_end, count) VALUES (%s, %s, 1) "
            f"ON CONFLICT (key) DO UPDATE SET "
            f"count = CASE WHEN {_TABLE}.window_end = excluded.window_end THEN {_TABLE}.count + 1 ELSE 1 END, "
            f"window_end = excluded.window_end RETURNING count",
            [key, window_end],
        )
        (count,) = cursor.fetchone()
        if random.randrange(PRUNE_ONE_IN) == 0:
            cursor.execute(f"DELETE FROM {_TABLE} WHERE window_end < %s", [int(now)])
    return count


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

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration  # windows of every scope end on a multiple of it
        cache = caches["default"]
        if isinstance(cache, BaseDatabaseCache):
            count = count_in_table(self.key, self.window_end, self.now)
        else:
            count = count_in_cache(cache, self.key, window, self.duration)
        return count <= self.num_requests

    def wait(self):
        return max(1.0, self.window_end - self.now)

    def timer(self):
        return time.time()


class AnonThrottle(FixedWindowThrottleMixin, throttling.AnonRateThrottle):
    """Anonymous clients, by IP; the rate is REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['anon']."""


class UserThrottle(FixedWindowThrottleMixin, throttling.UserRateThrottle):
    """Signed-in clients (token or session) by user, others by IP; rate from DEFAULT_THROTTLE_RATES['user']."""


API_THROTTLES = [AnonThrottle, UserThrottle]
