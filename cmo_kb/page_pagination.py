"""Pagination of the public pages where a full count would cost more than the page itself."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedPaginator(Paginator):
    """A Paginator that counts at most `cap` rows (and pages through only those).

    Counting every match of a broad search at a million excerpts costs more than finding the first
    page (the count has to visit every match; the page only the best ones), and nobody reads
    result 1,001: the count is `SELECT COUNT(*) FROM (... LIMIT cap + 1)`, unordered, so its cost is
    bounded by the cap. `capped` says there are more; `count_label` is "more than 1,000" then.
    """

    def __init__(self, object_list, per_page, cap=1000, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.cap = cap
        self.capped = False

    @cached_property
    def count(self):
        seen = self.object_list.order_by()[: self.cap + 1].count()
        self.capped = seen > self.cap
        return min(seen, self.cap)

    @property
    def count_label(self):
        return f"more than {self.cap:,}" if self.count and self.capped else f"{self.count:,}"
