"""The project's own tables (outside the apps): the API's throttle counters."""

from django.db import models


class ThrottleCount(models.Model):
    """One row per throttle key (scope and client): requests counted in the current fixed window.

    Written by one atomic upsert per request (cmo_kb/throttles.py), shared by every
    worker process; rows of past windows are reset in place, and pruned now and then."""

    key = models.CharField(max_length=255, primary_key=True)
    window_end = models.BigIntegerField(help_text="When the current window ends, in seconds since the epoch.")
    count = models.PositiveIntegerField()

    class Meta:
        db_table = "cmo_kb_throttle"
        ordering = ["key"]

    def __str__(self):
        return f"{self.key}: {self.count} in the window ending at {self.window_end}"
