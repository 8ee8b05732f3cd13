"""Fixtures for the public pages: the `kb` knowledge base (tests/conftest.py) and a way to grow it,
so each page's query count can be shown not to depend on how much data it shows."""

import pytest

from tests.pages.builders import fill_story, grow


@pytest.fixture
def grow_kb(kb):
    """Call grow_kb(n) to add n more published configurations (and a draft) to `kb`."""
    return lambda n=3: grow(kb, n)


@pytest.fixture
def story_kb(kb):
    """`kb` with SHC's improvement story, key figure, quality domains, headline messages, and a
    draft's traces (a Wish shift, a quality domain) that must never show."""
    return fill_story(kb)
