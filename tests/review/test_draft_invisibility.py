"""Drafts leave no trace for anonymous clients and analysts: every public page, API read and export
reads the same whether the draft exists or not.

The kb fixture's draft pathway-targets is given every relation a configuration can have, each shared
with published ones (cross-team, the published mechanism and theme, both quality domains, a context
and outcome of the published configurations, Wish shifts on both dimensions, a pathway, and evidence
links to the published configurations' excerpts as well as its own f-target). Each surface is then read
three times: with it as a draft, in review, and after deleting it. Any difference — a title, a slug, a
count in a matrix cell, team page, Wish profile, search result or CSV row — is a leak.
"""

import io
import re
import zipfile

import pytest

from cmo_kb.vocabulary import ReviewStatus

PAGES = [
    "/", "/programmes/ctg/", "/programmes/ctg/teams/", "/programmes/ctg/teams/pathway/", "/programmes/ctg/teams/shc/", "/programmes/ctg/mechanisms/", "/programmes/ctg/mechanisms/patient-beliefs/",
    "/programmes/ctg/mechanisms/professional-beliefs/", "/wish/", "/wish/power/", "/wish/valence/", "/quality-domains/",
    "/quality-domains/safety/", "/quality-domains/person-centredness/", "/programmes/ctg/matrix/",
    "/programmes/ctg/matrix/?rows=team&cols=wish_dimension", "/programmes/ctg/matrix/?rows=quality_domain&cols=pathway", "/programmes/ctg/matrix/?rows=theme&cols=effect",
    "/programmes/ctg/configurations/", "/programmes/ctg/configurations/shc-control/", "/programmes/ctg/configurations/shc-fear/", "/programmes/ctg/configurations/?team=pathway",
    "/programmes/ctg/configurations/?quality_domain=safety", "/programmes/ctg/configurations/?wish_dimension=valence",
    "/programmes/ctg/search/?q=target", "/programmes/ctg/search/?q=control", "/programmes/ctg/search/?q=waiting", "/programmes/ctg/search/?mechanism=patient-beliefs",
    "/programmes/ctg/search/?team=pathway", "/programmes/ctg/search/?quality_domain=safety", "/programmes/ctg/search/?wish_dimension=valence",
]
API = [
    "/api/configurations/", "/api/configurations/?format=csv", "/api/configurations/?view=full&format=csv",
    "/api/configurations/?search=resigned", "/api/configurations/?search=waiting", "/api/excerpts/",
    "/api/excerpts/?format=csv", "/api/excerpts/?search=target", "/api/excerpts/?mechanism=patient-beliefs",
    "/api/excerpts/?configuration=shc-control", "/api/evidence-links/", "/api/evidence-links/?excerpt=q-control",
    "/api/teams/", "/api/mechanisms/",
] + [f"/api/matrix/?rows={axis}&cols=team" for axis in
     ("team", "mechanism", "theme", "wish_dimension", "quality_domain", "pathway", "effect")] + [
    "/api/matrix/?rows=wish_dimension&cols=quality_domain&format=csv",
] + [f"/api/matrix/?rows={axis}&cols=team&ids=true" for axis in ("team", "mechanism", "quality_domain")]
EXCERPTS = ["q-control", "q-jobs", "f-target"]


def _text(response):
    body = response.content.decode("utf-8")
    return re.sub(r'"(created_at|updated_at)": ?"[^"]*"', "", body)


def _export(client, url):
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if url.endswith("qdpx/"):
        archive = zipfile.ZipFile(io.BytesIO(body))
        body = b"".join(archive.read(name) for name in sorted(archive.namelist()))
    return re.sub(r'(DateTime|Date)="[^"]*"', "", body.decode("utf-8"))


def snapshot(client, kb):
    from evidence.models import EvidenceExcerpt

    seen = {}
    for url in PAGES + API:
        response = client.get(url)
        seen[url] = (response.status_code, _text(response))
    for excerpt in EvidenceExcerpt.objects.filter(slug__in=EXCERPTS):
        for url in (f"/excerpts/{excerpt.pk}/", f"/api/excerpts/{excerpt.slug}/"):
            response = client.get(url)
            seen[url] = (response.status_code, _text(response))
    for url in ("/api/export/qdc/", "/api/export/qdpx/"):
        seen[url] = _export(client, url)
    return seen


def entangle_the_draft(kb):
    from evidence.models import EvidenceLink
    from mechanisms.models import ConfigurationPathway, WishShift

    draft = kb.pathway_targets
    draft.mechanism, draft.theme = kb.patient_beliefs, kb.targeting
    draft.save()
    draft.teams.set([kb.shc, kb.pathway_team])
    draft.quality_domains.set([kb.safety, kb.person])
    draft.contexts.add(kb.resigned)
    draft.outcomes.add(kb.refusal)
    WishShift.objects.create(configuration=draft, dimension=kb.power, toward=kb.agency, between=kb.clinician_patient)
    WishShift.objects.create(configuration=draft, dimension=kb.valence, toward=kb.hostile, between=kb.clinician_patient)
    ConfigurationPathway.objects.create(configuration=draft, pathway=kb.pathway_a)
    EvidenceLink.objects.create(excerpt=kb.q_control, configuration=draft, stance="challenges", part="context")
    EvidenceLink.objects.create(excerpt=kb.q_jobs, configuration=draft, stance="supports", part="outcome")
    return draft


def _differences(first, second):
    return sorted(url for url in first if first[url] != second[url])


@pytest.mark.parametrize("who", ["anonymous", "analyst"])
def test_no_surface_changes_when_the_draft_goes(kb, anon_client, analyst_client, who):
    client = anon_client if who == "anonymous" else analyst_client
    draft = entangle_the_draft(kb)
    as_draft = snapshot(client, kb)
    assert "Pathway targets" not in str(as_draft) and "pathway-targets" not in str(as_draft)
    draft.status = ReviewStatus.IN_REVIEW
    draft.save()
    assert _differences(as_draft, snapshot(client, kb)) == []
    draft.delete()
    assert _differences(as_draft, snapshot(client, kb)) == []


def test_the_entangled_draft_is_there_for_evaluators(kb, evaluator_client):
    """The same reads do show the draft to an evaluator through the API, so the test above compares
    surfaces that would show it if they let it through."""
    entangle_the_draft(kb)
    slugs = [c["slug"] for c in evaluator_client.get("/api/configurations/").json()["results"]]
    assert slugs == ["pathway-targets", "shc-control", "shc-fear"]
    links = evaluator_client.get("/api/excerpts/q-control/").json()["links"]
    assert {link["configuration"] for link in links} == {"shc-control", "pathway-targets"}
    cell = evaluator_client.get("/api/matrix/?rows=team&cols=mechanism&ids=true").json()["cells"][0][0]
    assert cell["slugs"] == ["pathway-targets", "shc-control", "shc-fear"]
