"""Query counts of the main admin changelists are pinned and do not grow with the number of rows."""

import pytest

from evidence.models import EvidenceExcerpt, EvidenceLink, Source
from mechanisms.models import CMOConfiguration
from projects.models import Team
from tests.conftest import SMALL_SOURCE_TEXT


def grow(kb, n):
    """n more configurations (two teams, a context, an outcome, an evidence link each), excerpts, sources
    and teams."""
    for i in range(n):
        team = Team.objects.create(programme=kb.programme, slug=f"team-{i}", name=f"Team {i}", short_name=f"T{i}")
        c = CMOConfiguration.objects.create(slug=f"extra-{i}", title=f"Extra {i}", mechanism=kb.patient_beliefs,
                                            statement="In C, M leads to O.")
        c.teams.set([kb.shc, team])
        c.contexts.set([kb.resigned])
        c.outcomes.set([kb.self_care])
        source = Source.objects.create(programme=kb.programme, slug=f"source-{i}", kind=kb.report, title=f"Source {i}",
                                       full_text=SMALL_SOURCE_TEXT)
        e = EvidenceExcerpt.objects.create(slug=f"x-{i}", source=source, text=SMALL_SOURCE_TEXT[0:12], start=0,
                                           end=12, team=team, speaker_role=kb.patient_role)
        EvidenceLink.objects.create(excerpt=e, configuration=c, part="outcome")


# Every admin page starts with 5 queries: the session, the user, the user's permissions (group
# permissions, then user permissions) and the user's programme memberships (what they see and write
# in, projects/programme_admin.py). Every changelist of a programme's rows offers a programme filter
# (the programmes the user sees: 1 query). The changelist counts twice (filtered, and in full for
# "show all").
PAGES = [
    # + programmes; + filter choices: mechanisms, teams, relationship levels, quality domains
    # + 2 counts, the rows (mechanism and updated_by joined, evidence count annotated), their teams (prefetch)
    ("/admin/mechanisms/cmoconfiguration/", 14),
    # + programmes; + filter choices: teams, speaker roles, waves, source titles
    # + 2 counts, the rows (source without its full text, team, speaker role joined; link count annotated)
    ("/admin/evidence/evidenceexcerpt/", 13),
    # + programmes; + filter choices: kinds; + 2 counts, the rows (kind and programme joined, text deferred)
    ("/admin/evidence/source/", 10),
    # + programmes; + filter choices: quality domains, relationship levels; + 2 counts, the rows
    ("/admin/projects/team/", 11),
    # + programmes; + filter choices: teams; + 2 counts, the rows (excerpt with team and role, configuration joined)
    ("/admin/evidence/evidencelink/", 10),
]


@pytest.mark.parametrize(("url", "queries"), PAGES)
def test_changelist_query_count_is_constant(kb, eva_client, django_assert_num_queries, url, queries):
    with django_assert_num_queries(queries):
        assert eva_client.get(url).status_code == 200
    grow(kb, 6)
    with django_assert_num_queries(queries):
        response = eva_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 6


def test_coding_page_query_count_is_constant(kb, eva_client, django_assert_num_queries):
    # session, user, permissions (2), the source with its programme, the user's memberships (may
    # they add excerpts there?), its excerpts with team and speaker role
    url = f"/admin/evidence/source/{kb.source.pk}/code/"
    with django_assert_num_queries(7):
        assert eva_client.get(url).status_code == 200
    for i in range(5):
        start = SMALL_SOURCE_TEXT.index("Staff") + i
        EvidenceExcerpt.objects.create(slug=f"more-{i}", source=kb.source, text=SMALL_SOURCE_TEXT[start:start + 9],
                                       start=start, end=start + 9, team=kb.shc, speaker_role=kb.staff_role)
    with django_assert_num_queries(7):
        response = eva_client.get(url)
    assert len(response.context["excerpts"]) == 8
