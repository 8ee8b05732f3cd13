"""The role × URL matrix: every URL pattern the project has, requested by every role.

Each row of MATRIX is one URL pattern (as django.urls.get_resolver() spells it), a concrete URL that
fills its parameters with real rows of the loaded CtG corpus (a published configuration, a draft, a
team, an excerpt, history records...), and for each method the status each role must get, in the order
of ROLES: anonymous, analyst, evaluator, lead evaluator, superuser. GET is asked of every URL; the
write methods are asked where a URL accepts writes, so that a role without the right is seen to be
refused (anonymous API writes 401, analysts 403, the admin a redirect to its login...). Nobody gets a
500 anywhere: every cell names the status it must be. A cell left None is not asked (the admin's
forms are posted only by roles that may not post them, since an empty form would only come back).
Each request runs in its own savepoint, rolled back after it, with the cache (throttles, lockouts)
cleared, so one role's request cannot change what the next one gets.

`test_every_url_pattern_has_a_row` fails as soon as a URL pattern is added without a row here (and
when a row names a pattern that no longer exists), so the matrix stays complete.

A cell written `Hole(status, reason)` is what the project SHOULD answer but does not yet: it runs as
a strict xfail, so it turns into a failure (and the Hole into a plain status) once the fix lands.
"""

import re
from dataclasses import dataclass

import pytest
from django.contrib.admin.sites import site as admin_site
from django.urls import URLPattern, URLResolver, get_resolver, resolve

ROLES = ("anonymous", "analyst", "evaluator", "lead", "superuser")

LOGIN = "login"  # 302 to /admin/login/?next=...
MOVED = "moved"  # 302 (or 301) anywhere but the admin login
CLIENT_ERROR = "4xx"  # a refusal whose exact status is not settled yet


@dataclass(frozen=True)
class Hole:
    """A status the project should answer but does not yet (a strict xfail)."""

    status: object
    reason: str


def per_role(anonymous, analyst, evaluator, lead, superuser):
    return (anonymous, analyst, evaluator, lead, superuser)


EVERYONE_200 = per_role(200, 200, 200, 200, 200)
# The admin: staff with the model's permissions; analysts are not staff, so like anonymous clients
# they are sent to the login page (which says so) and learn nothing of what is behind it.
STAFF_200 = per_role(LOGIN, LOGIN, 200, 200, 200)
SUPERUSER_200 = per_role(LOGIN, LOGIN, 403, 403, 200)
STAFF_MOVED = per_role(LOGIN, LOGIN, MOVED, MOVED, MOVED)
# API writes: anonymous clients must sign in, analysts read only, evaluators write.
API_CREATE = per_role(401, 403, 400, 400, 400)  # an empty body is a 400 naming the fields it needs
API_PATCH = per_role(401, 403, 200, 200, 200)  # an empty PATCH changes nothing
API_NOT_ALLOWED = per_role(401, 403, 405, 405, 405)
DRAFT_DETAIL = per_role(404, 404, 200, 200, 200)


@dataclass
class Row:
    pattern: str  # the route as django.urls spells it, e.g. "api/^teams/(?P<slug>[^/.]+)/$"
    url: str  # a template whose {key}s are corpus values (see the `corpus` fixture)
    expect: dict  # method -> per_role(...)
    api: bool = False  # requested with a token (as analysts' scripts do) rather than a session
    data: object = None  # body of the write requests, or a callable(corpus) -> body
    says: str = ""  # words a 200 of this row must contain (when a 200 is itself a refusal)


# --- the admin ----------------------------------------------------------------------------------

# Every model registered in the admin, with which rows to use and who may do what. A model
# registered later fails test_every_url_pattern_has_a_row until it is listed here.
CURATED = "curated"  # evaluators, leads and superusers: everything
LEADS = "leads"  # a programme and its memberships: evaluators see them, its leads and superusers change them
SUPERUSER = "superuser"  # auth: superusers only
TOKENS = "tokens"  # DRF tokens: evaluators add and view, only superusers change or delete
AXES = "axes"  # sign-in lockouts (django-axes): superusers only; nobody adds them by hand
ADMIN_MODELS = {
    "auth.group": SUPERUSER,
    "auth.user": SUPERUSER,
    "authtoken.tokenproxy": TOKENS,
    "axes.accessattempt": AXES,
    "axes.accesslog": AXES,
    "axes.accessfailurelog": AXES,
    "projects.programme": LEADS,
    "projects.programmemembership": LEADS,
    "projects.qualitydomain": CURATED,
    "projects.relationshiplevel": CURATED,
    "projects.team": CURATED,
    "projects.keyfigure": CURATED,
    "projects.teamqualitydomain": CURATED,
    "projects.teamrelationshiplevel": CURATED,
    "mechanisms.enablingmechanism": CURATED,
    "mechanisms.mechanismtheme": CURATED,
    "mechanisms.wishdimension": CURATED,
    "mechanisms.wishpole": CURATED,
    "mechanisms.relationshippair": CURATED,
    "mechanisms.context": CURATED,
    "mechanisms.outcomekind": CURATED,
    "mechanisms.outcome": CURATED,
    "mechanisms.pathway": CURATED,
    "mechanisms.essentialbuildingblock": CURATED,
    "mechanisms.framework": CURATED,
    "mechanisms.frameworkconcept": CURATED,
    "mechanisms.conceptmapping": CURATED,
    "mechanisms.cmoconfiguration": CURATED,
    "mechanisms.configurationpathway": CURATED,
    "mechanisms.wishshift": CURATED,
    "mechanisms.configurationchain": CURATED,
    "mechanisms.programmetheory": CURATED,
    "mechanisms.theoryversion": CURATED,
    "mechanisms.theoryversionentry": CURATED,
    "evidence.sourcekind": CURATED,
    "evidence.evaluationwave": CURATED,
    "evidence.measurementinstrument": CURATED,
    "evidence.speakerrole": CURATED,
    "evidence.source": CURATED,
    "evidence.evidenceexcerpt": CURATED,
    "evidence.evidencelink": CURATED,
    "evidence.code": CURATED,
    "evidence.coding": CURATED,
    "evidence.memo": CURATED,
    "evidence.relation": CURATED,
    "evidence.importrun": "imports",  # rows of their own below (IMPORT_RUN)
}



def refused(expectations):
    """The cells of `expectations` that refuse (a login redirect, a 403): writes are posted only by
    roles that may not make them (an empty POST would only show the form again to those who may)."""
    return tuple(cell if cell in (LOGIN, 403) else None for cell in expectations)


def admin_model_rows(label, profile):
    """The seven URL patterns every ModelAdmin has (six without simple-history), for one row of `label`.

    `{label}` below is replaced by e.g. `mechanisms.context`: its keys in the corpus are
    `pk:<label>` (a row of it) and `history:<label>` (a history record of that row).
    """
    app, model = label.split(".")
    base = f"admin/{app}/{model}/"
    obj = f"/admin/{app}/{model}/{{pk:{label}}}/"
    view, write = {
        CURATED: (STAFF_200, STAFF_200),
        LEADS: (STAFF_200, per_role(LOGIN, LOGIN, 403, 200, 200)),
        SUPERUSER: (SUPERUSER_200, SUPERUSER_200),
        AXES: (SUPERUSER_200, SUPERUSER_200),
        TOKENS: (per_role(LOGIN, LOGIN, 200, 200, 200), SUPERUSER_200),
    }[profile]
    rows = [
        Row(f"{base}", f"/{base}", {"GET": view}),
        Row(f"{base}add/", f"/{base}add/", {"GET": per_role(LOGIN, LOGIN, 403, 403, 403) if profile == AXES else view,
                                            "POST": refused(per_role(LOGIN, LOGIN, 403, 403, 403) if profile == AXES else view)}),
        Row(f"{base}<path:object_id>/history/", f"{obj}history/", {"GET": view}),
        Row(f"{base}<path:object_id>/delete/", f"{obj}delete/", {"GET": write, "POST": refused(write)}),
        Row(f"{base}<path:object_id>/change/", f"{obj}change/", {"GET": view, "POST": refused(write)}),
        Row(f"{base}<path:object_id>/", obj, {"GET": STAFF_MOVED}),
    ]
    if profile in (CURATED, LEADS):  # simple-history's form of one past version
        rows.append(
            Row(f"{base}^([^/]+)/history/([^/]+)/$", f"{obj}history/{{history:{label}}}/",
                {"GET": view, "POST": refused(write)})
        )
    return rows


# Published configurations are locked: evaluators see them read-only and cannot delete them.
LOCKED = per_role(LOGIN, LOGIN, 403, 200, 200)
LOCKED_POST = refused(LOCKED)
CONFIG = "admin/mechanisms/cmoconfiguration/"
LINK = "admin/evidence/evidencelink/"
EVIDENCE = "admin/evidence/evidenceexcerpt/"
SOURCE = "admin/evidence/source/"

ADMIN_ROWS = [
    Row("admin/", "/admin/", {"GET": STAFF_200}),
    # Signed-in staff are sent on to the index; analysts see the form saying they are not allowed.
    Row("admin/login/", "/admin/login/", {"GET": per_role(200, 200, MOVED, MOVED, MOVED),
                                          "POST": per_role(200, 200, 200, 200, 200)},
        data={"username": "nobody", "password": "wrong"}),
    # Signing out is a POST (a GET cannot sign anyone out); those not signed in to it are sent on.
    Row("admin/logout/", "/admin/logout/", {"GET": per_role(MOVED, MOVED, 405, 405, 405)}),
    Row("admin/password_change/", "/admin/password_change/", {"GET": STAFF_200, "POST": STAFF_200}),
    Row("admin/password_change/done/", "/admin/password_change/done/", {"GET": STAFF_200}),
    # Without its parameters the autocomplete refuses (403), for staff too.
    Row("admin/autocomplete/", "/admin/autocomplete/", {"GET": per_role(LOGIN, LOGIN, 403, 403, 403)}),
    Row("admin/autocomplete/", "/admin/autocomplete/?app_label=evidence&model_name=evidencelink"
        "&field_name=configuration&term=a", {"GET": STAFF_200}),
    Row("admin/jsi18n/", "/admin/jsi18n/", {"GET": STAFF_200}),
    # "View on site": a team's public page; configurations have none (a draft must not get one).
    Row("admin/r/<path:content_type_id>/<path:object_id>/", "/admin/r/{ct:projects.team}/{pk:projects.team}/",
        {"GET": STAFF_MOVED}),
    Row("admin/r/<path:content_type_id>/<path:object_id>/", "/admin/r/{ct:mechanisms.cmoconfiguration}/{pk:draft}/",
        {"GET": per_role(LOGIN, LOGIN, 404, 404, 404)}),
    Row("admin/auth/user/<id>/password/", "/admin/auth/user/{pk:auth.user}/password/",
        {"GET": SUPERUSER_200, "POST": SUPERUSER_200}),
    Row("admin/^(?P<app_label>auth|projects|authtoken|mechanisms|evidence|axes)/$", "/admin/mechanisms/",
        {"GET": STAFF_200}),
    # Evaluators hold no permission in auth: its index does not exist for them.
    Row("admin/^(?P<app_label>auth|projects|authtoken|mechanisms|evidence|axes)/$", "/admin/auth/",
        {"GET": per_role(LOGIN, LOGIN, 404, 404, 200)}),
    Row("admin/(?P<url>.*)$", "/admin/no-such-page/", {"GET": per_role(LOGIN, LOGIN, 404, 404, 404)}),
    Row("admin/(?P<url>.*)$", "/admin/mechanisms/cmoconfiguration", {"GET": STAFF_MOVED}),
    # The review workflow: leads publish; evaluators submit and return to draft.
    Row(f"{CONFIG}<path:object_id>/workflow/<str:action>/", "/admin/mechanisms/cmoconfiguration/{pk:draft}/workflow/publish/",
        {"GET": per_role(LOGIN, LOGIN, 405, 405, 405), "POST": STAFF_MOVED}),
    Row(f"{CONFIG}<path:object_id>/workflow/<str:action>/", "/admin/mechanisms/cmoconfiguration/{pk:draft}/workflow/no-such-action/",
        {"POST": per_role(LOGIN, LOGIN, 403, 403, 403)}),
    # The review queue (mechanisms/review.py): staff who write in a programme see it; leads act from
    # it. An empty POST: evaluators may not act (403), for leads it names no step (404).
    Row(f"{CONFIG}review/", "/admin/mechanisms/cmoconfiguration/review/",
        {"GET": STAFF_200, "POST": per_role(LOGIN, LOGIN, 403, 404, 404)}),
    Row(f"{CONFIG}review/", "/admin/mechanisms/cmoconfiguration/review/?programme=no-such-programme",
        {"GET": per_role(LOGIN, LOGIN, 404, 404, 404)}),
    # Comments on a configuration: posted by its programme's evaluators and leads; an empty one is
    # refused with a message on the configuration's page.
    Row(f"{CONFIG}<path:object_id>/comments/", "/admin/mechanisms/cmoconfiguration/{pk:draft}/comments/",
        {"GET": per_role(LOGIN, LOGIN, 405, 405, 405), "POST": STAFF_MOVED}),
    Row(f"{CONFIG}<path:object_id>/comments/", "/admin/mechanisms/cmoconfiguration/999999/comments/",
        {"POST": per_role(LOGIN, LOGIN, 404, 404, 404)}),
    # CMO spreadsheets (mechanisms/import_admin.py): for those who write in a programme (every staff
    # role here writes in ctg); an empty upload is the form again, naming what it needs.
    Row(f"{CONFIG}import/", "/admin/mechanisms/cmoconfiguration/import/", {"GET": STAFF_200, "POST": STAFF_200}),
    Row(f"{CONFIG}import/template.<str:extension>", "/admin/mechanisms/cmoconfiguration/import/template.xlsx",
        {"GET": STAFF_200}),
    Row(f"{CONFIG}import/template.<str:extension>", "/admin/mechanisms/cmoconfiguration/import/template.csv",
        {"GET": STAFF_200}),
    Row(f"{CONFIG}import/template.<str:extension>", "/admin/mechanisms/cmoconfiguration/import/template.pdf",
        {"GET": per_role(LOGIN, LOGIN, 404, 404, 404)}),
    # The draft's own pages, which evaluators may change.
    Row(f"{CONFIG}<path:object_id>/change/", "/admin/mechanisms/cmoconfiguration/{pk:draft}/change/",
        {"GET": STAFF_200}),
    Row(f"{CONFIG}<path:object_id>/delete/", "/admin/mechanisms/cmoconfiguration/{pk:draft}/delete/",
        {"GET": STAFF_200}),
    Row(f"{CONFIG}^([^/]+)/history/([^/]+)/$", "/admin/mechanisms/cmoconfiguration/{pk:draft}/history/{history:draft}/",
        {"GET": STAFF_200, "POST": per_role(LOGIN, LOGIN, MOVED, MOVED, MOVED)},
        data=lambda values: values["revert:draft"]),
    # A published configuration's revert form: refused for evaluators, naming the lock.
    Row(f"{CONFIG}^([^/]+)/history/([^/]+)/$",
        "/admin/mechanisms/cmoconfiguration/{pk:mechanisms.cmoconfiguration}/history/{history:mechanisms.cmoconfiguration}/",
        # (a revert that changes something: the version it restores, with another title)
        {"POST": per_role(LOGIN, LOGIN, 200, None, None)}, says="Only a lead evaluator can change what a published",
        data=lambda values: {**values["revert:mechanisms.cmoconfiguration"], "title": "Reverted by the matrix"}),
    # ...and of an evidence link of a published configuration: the same.
    Row(f"{LINK}^([^/]+)/history/([^/]+)/$",
        "/admin/evidence/evidencelink/{pk:evidence.evidencelink}/history/{history:evidence.evidencelink}/",
        {"POST": per_role(LOGIN, LOGIN, 200, None, None)}, says="Only a lead evaluator can change what a published",
        data=lambda values: {**values["revert:evidence.evidencelink"], "note": "Reverted by the matrix"}),
    Row(f"{LINK}<path:object_id>/change/", "/admin/evidence/evidencelink/{pk:draft-link}/change/", {"GET": STAFF_200}),
    Row(f"{SOURCE}<path:object_id>/code/", "/admin/evidence/source/{pk:evidence.source}/code/", {"GET": STAFF_200}),
    Row(f"{SOURCE}<path:object_id>/code/", "/admin/evidence/source/999999/code/", {"GET": per_role(LOGIN, LOGIN, 404, 404, 404)}),
    # The coding workspace (evidence/workspace.py): the page for staff who see the source; its JSON
    # actions only take POSTs of a JSON object (a form post is a 400 naming the body).
    Row(f"{SOURCE}<path:object_id>/workspace/", "/admin/evidence/source/{pk:evidence.source}/workspace/", {"GET": STAFF_200}),
    Row(f"{SOURCE}<path:object_id>/workspace/", "/admin/evidence/source/999999/workspace/",
        {"GET": per_role(LOGIN, LOGIN, 404, 404, 404)}),
    *[Row(f"{SOURCE}<path:object_id>/workspace/{action}/", f"/admin/evidence/source/{{pk:evidence.source}}/workspace/{action}/",
          {"GET": per_role(LOGIN, LOGIN, 405, 405, 405), "POST": per_role(LOGIN, LOGIN, 400, 400, 400)})
      for action in ("passage", "configuration")],
    # Upload a document (evidence/admin_views.py upload_view): staff who add sources; an empty form is a
    # 400 naming the file and programme it needs.
    Row(f"{SOURCE}upload/", "/admin/evidence/source/upload/", {"GET": STAFF_200, "POST": per_role(LOGIN, LOGIN, 400, 400, 400)}),
    # Import a QDA project (evidence/refi_qda_admin.py): for those who write in a programme; an empty
    # upload is the form again, naming what it needs.
    Row(f"{SOURCE}import-qda/", "/admin/evidence/source/import-qda/", {"GET": STAFF_200, "POST": STAFF_200}),
    # Inter-coder agreement (evidence/agreement_admin.py): staff who see codings; the form, or its report.
    Row("admin/evidence/coding/agreement/", "/admin/evidence/coding/agreement/", {"GET": STAFF_200}),
    Row("admin/evidence/coding/agreement/",
        "/admin/evidence/coding/agreement/?sources={pk:evidence.source}&coders={username:lead}&coders={username:analyst}",
        {"GET": STAFF_200}),
    # A source's original document: the corpus's report was pasted, so it has none (404); a source
    # that does not exist is a 404 as well.
    Row(f"{SOURCE}<path:object_id>/original/", "/admin/evidence/source/{pk:evidence.source}/original/",
        {"GET": per_role(LOGIN, LOGIN, 404, 404, 404)}),
    Row(f"{SOURCE}<path:object_id>/original/", "/admin/evidence/source/999999/original/",
        {"GET": per_role(LOGIN, LOGIN, 404, 404, 404)}),
    Row(f"{EVIDENCE}autocomplete/", "/admin/evidence/evidenceexcerpt/autocomplete/?app_label=evidence"
        "&model_name=evidencelink&field_name=excerpt&term=control", {"GET": STAFF_200}),
    Row(f"{EVIDENCE}autocomplete/", "/admin/evidence/evidenceexcerpt/autocomplete/", {"GET": per_role(LOGIN, LOGIN, 403, 403, 403)}),
]
# The configuration rows of admin_model_rows use a published configuration: locked for evaluators.
for _row in admin_model_rows("mechanisms.cmoconfiguration", CURATED):
    if _row.pattern.endswith("delete/"):
        _row.expect = {"GET": LOCKED, "POST": LOCKED_POST}
    elif _row.pattern.endswith("change/"):
        _row.expect = {"GET": STAFF_200, "POST": LOCKED_POST}
    ADMIN_ROWS.append(_row)
# Imports (evidence/import_runs_admin.py): staff see their own runs and those of the programmes they
# write in (the corpus's run is the evaluator's dry run in ctg, without its file any more); nobody adds,
# edits or deletes a run by hand. Confirm is the owner's (without a file: back to the page saying so);
# undo is the owner's or a lead's (a dry run: back to the page saying there is nothing to undo).
IMPORT_RUN = "admin/evidence/importrun/"
STAFF_403 = per_role(LOGIN, LOGIN, 403, 403, 403)
STAFF_405 = per_role(LOGIN, LOGIN, 405, 405, 405)
ADMIN_ROWS += [
    Row(IMPORT_RUN, f"/{IMPORT_RUN}", {"GET": STAFF_200}),
    Row(f"{IMPORT_RUN}add/", f"/{IMPORT_RUN}add/", {"GET": STAFF_403, "POST": STAFF_403}),
    Row(f"{IMPORT_RUN}<path:object_id>/history/", f"/{IMPORT_RUN}{{pk:evidence.importrun}}/history/", {"GET": STAFF_200}),
    Row(f"{IMPORT_RUN}<path:object_id>/delete/", f"/{IMPORT_RUN}{{pk:evidence.importrun}}/delete/",
        {"GET": STAFF_403, "POST": STAFF_403}),
    Row(f"{IMPORT_RUN}<path:object_id>/change/", f"/{IMPORT_RUN}{{pk:evidence.importrun}}/change/",
        {"GET": STAFF_200, "POST": STAFF_405}),
    Row(f"{IMPORT_RUN}<path:object_id>/change/", f"/{IMPORT_RUN}999999/change/", {"GET": per_role(LOGIN, LOGIN, 404, 404, 404)}),
    Row(f"{IMPORT_RUN}<path:object_id>/", f"/{IMPORT_RUN}{{pk:evidence.importrun}}/", {"GET": STAFF_MOVED}),
    Row(f"{IMPORT_RUN}<int:run_id>/status/", f"/{IMPORT_RUN}{{pk:evidence.importrun}}/status/", {"GET": STAFF_200}),
    Row(f"{IMPORT_RUN}<int:run_id>/status/", f"/{IMPORT_RUN}999999/status/", {"GET": per_role(LOGIN, LOGIN, 404, 404, 404)}),
    Row(f"{IMPORT_RUN}<int:run_id>/confirm/", f"/{IMPORT_RUN}{{pk:evidence.importrun}}/confirm/",
        {"GET": STAFF_405, "POST": per_role(LOGIN, LOGIN, MOVED, 403, 403)}),
    Row(f"{IMPORT_RUN}<int:run_id>/undo/", f"/{IMPORT_RUN}{{pk:evidence.importrun}}/undo/",
        {"GET": STAFF_405, "POST": STAFF_MOVED}),
]
for _label, _profile in ADMIN_MODELS.items():
    if _label in ("mechanisms.cmoconfiguration", "evidence.importrun"):
        continue
    for _row in admin_model_rows(_label, _profile):
        if _label == "projects.programmemembership" and _row.pattern.endswith("add/"):
            # Members are added by a lead of the programme (anyone who evaluates may start a programme).
            _row.expect = {"GET": per_role(LOGIN, LOGIN, 403, 200, 200), "POST": per_role(LOGIN, LOGIN, 403, None, None)}
        if _label in ("evidence.evidencelink", "mechanisms.wishshift", "mechanisms.configurationpathway"):
            # Rows that belong to a published configuration share its lock.
            # Its delete page is shown to evaluators listing the lock, and the POST is refused with it.
            if _row.pattern.endswith("delete/"):
                ADMIN_ROWS.append(Row(_row.pattern, _row.url, {"POST": per_role(LOGIN, LOGIN, 200, None, None)},
                                      says="published configuration"))
                _row.expect = {"GET": STAFF_200}
            elif _row.pattern.endswith("change/"):
                _row.expect = {"GET": STAFF_200, "POST": LOCKED_POST}
        ADMIN_ROWS.append(_row)


# --- the REST API and the exports -------------------------------------------------------------


def api_resource_rows(prefix, key, delete=None, patch=API_PATCH, detail=EVERYONE_200):
    """The six routes a router resource has (list, list.<format>, export, export.<format>, detail,
    detail.<format>); the export (every row as CSV, cmo_kb/csv_export.py) is a read for everyone.

    `key` names the corpus value that fills the lookup; `delete` is what DELETE of that row gives
    each role (None: not asked of those who may delete, only of those who may not).
    """
    lookup = "pk" if prefix in ("evidence-links", "concept-mappings", "chains", "codes", "codings") else "slug"
    delete = delete or per_role(401, 403, None, None, None)
    return [
        Row(f"api/^{prefix}/$", f"/api/{prefix}/", {"GET": EVERYONE_200, "POST": API_CREATE}, api=True),
        Row(f"api/^{prefix}\\.(?P<format>[a-z0-9]+)/?$", f"/api/{prefix}.csv", {"GET": EVERYONE_200}, api=True),
        Row(f"api/^{prefix}\\.(?P<format>[a-z0-9]+)/?$", f"/api/{prefix}.json", {"GET": EVERYONE_200, "POST": API_CREATE}, api=True),
        Row(f"api/^{prefix}/export/$", f"/api/{prefix}/export/", {"GET": EVERYONE_200, "POST": API_NOT_ALLOWED}, api=True),
        Row(f"api/^{prefix}/export\\.(?P<format>[a-z0-9]+)/?$", f"/api/{prefix}/export.csv", {"GET": EVERYONE_200}, api=True),
        Row(f"api/^{prefix}/(?P<{lookup}>[^/.]+)/$", f"/api/{prefix}/{{{key}}}/",
            {"GET": detail, "PATCH": patch, "DELETE": delete}, api=True),
        Row(f"api/^{prefix}/(?P<{lookup}>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$", f"/api/{prefix}/{{{key}}}.json",
            {"GET": detail, "PATCH": patch}, api=True),
    ]


# Deleting what published configurations use: refused for everyone, as in the admin (409 naming them).
USED_DELETE = per_role(401, 403, 409, 409, 409)
# An empty PATCH changes nothing, so the publish lock has nothing to refuse; a real change by an
# evaluator is refused (the *_CHANGE rows below).
PUBLISHED_PATCH = API_PATCH
PUBLISHED_CHANGE = per_role(401, 403, 403, None, None)

MEMBERS_READ = per_role(403, 200, 200, 200, 200)

API_ROWS = [
    # A programme is deleted by its lead only (an evaluator of ctg is refused before the row's use is).
    *api_resource_rows("programmes", "programme", delete=per_role(401, 403, 403, 409, 409)),
    *api_resource_rows("teams", "team", delete=USED_DELETE),
    *api_resource_rows("mechanisms", "mechanism", delete=USED_DELETE),
    *api_resource_rows("themes", "theme", delete=USED_DELETE),
    *api_resource_rows("wish-dimensions", "wish-dimension", delete=USED_DELETE),
    *api_resource_rows("quality-domains", "quality-domain"),
    *api_resource_rows("relationship-levels", "relationship-level"),
    *api_resource_rows("pathways", "pathway", delete=USED_DELETE),
    # Used by published configurations through a many-to-many: the publish lock refuses evaluators
    # (403), mechanisms/dependents.py everyone else (409).
    *api_resource_rows("contexts", "context", delete=per_role(401, 403, 403, 409, 409)),
    *api_resource_rows("outcomes", "outcome", delete=per_role(401, 403, 403, 409, 409)),
    *api_resource_rows("outcome-kinds", "outcome-kind", delete=USED_DELETE),
    *api_resource_rows("relationship-pairs", "relationship-pair", delete=USED_DELETE),
    *api_resource_rows("configurations", "configuration", patch=PUBLISHED_PATCH,
                       delete=per_role(401, 403, 403, None, None)),
    *api_resource_rows("sources", "source", delete=USED_DELETE),
    *api_resource_rows("excerpts", "excerpt", delete=USED_DELETE),
    *api_resource_rows("evidence-links", "link", patch=PUBLISHED_PATCH, delete=per_role(401, 403, 403, None, None)),
    *api_resource_rows("speaker-roles", "speaker-role", delete=USED_DELETE),
    # A chain link between two published configurations: under the publish lock (evaluators 403).
    *api_resource_rows("chains", "chain", patch=PUBLISHED_PATCH, delete=per_role(401, 403, 403, None, None)),
    *api_resource_rows("waves", "wave"),
    # Programme theories (mechanisms/theory_api.py): read by whoever sees the programme, written by its
    # evaluators (the theory's own fields; versions in the workbench).
    *api_resource_rows("theories", "theory"),
    # The shared frameworks (global) and the crosswalk (a programme's: its writers change it).
    *api_resource_rows("frameworks", "framework"),
    *api_resource_rows("concept-mappings", "concept-mapping"),
    # A programme's codes (a coding uses the corpus's code: deleting it is a 409 naming the coding) and codings.
    *api_resource_rows("codes", "code", delete=USED_DELETE),
    *api_resource_rows("codings", "coding"),
    # A programme's members: read by its members (every signed-in role here is one of ctg's), changed
    # by its lead; its only lead cannot leave (422 naming the username).
    *[Row(f"api/^programmes/(?P<programme_slug>[^/.]+)/members{route}", f"/api/programmes/{{programme}}/members{url}",
          expect, api=True) for route, url, expect in (
        ("/$", "/", {"GET": MEMBERS_READ, "POST": per_role(401, 403, 403, 400, 400)}),
        ("\\.(?P<format>[a-z0-9]+)/?$", ".csv", {"GET": MEMBERS_READ}),
        ("/export/$", "/export/", {"GET": MEMBERS_READ, "POST": per_role(401, 403, 403, 405, 405)}),
        ("/export\\.(?P<format>[a-z0-9]+)/?$", "/export.csv", {"GET": MEMBERS_READ}),
        ("/(?P<username>[^/]+)/$", "/{username:lead}/",
         {"GET": MEMBERS_READ, "PATCH": per_role(401, 403, 403, 200, 200), "DELETE": per_role(401, 403, 403, 422, 422)}),
        ("/(?P<username>[^/]+)\\.(?P<format>[a-z0-9]+)/?$", "/{username:lead}.json", {"GET": MEMBERS_READ}),
    )],
    # Drafts and what belongs to them exist only for evaluators.
    Row("api/^configurations/(?P<slug>[^/.]+)/$", "/api/configurations/{draft}/",
        {"GET": DRAFT_DETAIL, "PATCH": per_role(401, 403, 200, 200, 200),
         "DELETE": per_role(401, 403, None, None, None)}, api=True),
    Row("api/^configurations/(?P<slug>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$", "/api/configurations/{draft}.json",
        {"GET": DRAFT_DETAIL}, api=True),
    Row("api/^configurations/(?P<slug>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$", "/api/configurations/{draft}.csv",
        {"GET": DRAFT_DETAIL}, api=True),
    Row("api/^configurations/(?P<slug>[^/.]+)/$", "/api/configurations/{in-review}/", {"GET": DRAFT_DETAIL}, api=True),
    Row("api/^configurations/(?P<slug>[^/.]+)/$", "/api/configurations/no-such-configuration/",
        {"GET": per_role(404, 404, 404, 404, 404)}, api=True),
    Row("api/^evidence-links/(?P<pk>[^/.]+)/$", "/api/evidence-links/{draft-link}/",
        {"GET": DRAFT_DETAIL, "PATCH": per_role(401, 403, 200, 200, 200)}, api=True),
    Row("api/^evidence-links/(?P<pk>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$", "/api/evidence-links/{draft-link}.json",
        {"GET": DRAFT_DETAIL}, api=True),
    Row("api/^configurations/$", "/api/configurations/?status=draft", {"GET": per_role(403, 403, 200, 200, 200)}, api=True),
    Row("api/^configurations/export/$", "/api/configurations/export/?status=draft", {"GET": per_role(403, 403, 200, 200, 200)}, api=True),
    Row("api/^excerpts/export/$", "/api/excerpts/export/?configuration={draft}", {"GET": per_role(400, 400, 200, 200, 200)}, api=True),
    # A draft's slug in a filter reads as an unknown one to those who may not see drafts.
    Row("api/^evidence-links/$", "/api/evidence-links/?configuration={draft}", {"GET": per_role(400, 400, 200, 200, 200)}, api=True),
    Row("api/^excerpts/$", "/api/excerpts/?configuration={draft}", {"GET": per_role(400, 400, 200, 200, 200)}, api=True),
    Row("api/^excerpts/$", "/api/excerpts/?configuration=no-such-configuration", {"GET": per_role(400, 400, 400, 400, 400)}, api=True),
    # A source's text is verbatim and immutable once excerpts point into it, whoever asks (422: a rule
    # about the stored rows, cmo_kb/errors.py validation_status).
    Row("api/^sources/(?P<slug>[^/.]+)/$", "/api/sources/{source}/",
        {"PATCH": per_role(401, 403, 422, 422, 422)},
        api=True, data={"full_text": "Replaced."}),
    # A document as a new source (multipart only): anonymous clients sign in, analysts read only, and
    # a JSON body is a 415 for those who may upload; it is not a list to read.
    Row("api/^sources/upload/$", "/api/sources/upload/",
        {"GET": per_role(405, 405, 405, 405, 405), "POST": per_role(401, 403, 415, 415, 415)}, api=True),
    Row("api/^sources/upload\\.(?P<format>[a-z0-9]+)/?$", "/api/sources/upload.json",
        {"GET": per_role(405, 405, 405, 405, 405), "POST": per_role(401, 403, 415, 415, 415)}, api=True),
    # A real change to a published configuration or its evidence: leads only.
    Row("api/^configurations/(?P<slug>[^/.]+)/$", "/api/configurations/{configuration}/",
        {"PATCH": PUBLISHED_CHANGE}, api=True, data={"title": "Changed by the matrix"}),
    Row("api/^evidence-links/(?P<pk>[^/.]+)/$", "/api/evidence-links/{link}/",
        {"PATCH": PUBLISHED_CHANGE}, api=True, data={"note": "Changed by the matrix"}),
    Row("api/^configurations\\.(?P<format>[a-z0-9]+)/?$", "/api/configurations.xml", {"GET": per_role(400, 400, 400, 400, 400)}, api=True),
    Row("api/", "/api/", {"GET": EVERYONE_200, "POST": per_role(401, 405, 405, 405, 405)}, api=True),
    Row("api/<drf_format_suffix:format>", "/api/.json", {"GET": EVERYONE_200}, api=True),
    Row("api/matrix/", "/api/matrix/?rows=team&cols=mechanism", {"GET": EVERYONE_200, "POST": API_NOT_ALLOWED}, api=True),
    # A CMO spreadsheet import (mechanisms/import_api.py): for those who write in a programme; a body
    # without a file is a 400 naming it (analysts write nowhere: 403 before the body is read).
    Row("api/imports/configurations/", "/api/imports/configurations/",
        {"GET": per_role(401, 405, 405, 405, 405), "POST": per_role(401, 403, 400, 400, 400)},
        api=True, data={"programme": "ctg"}),
    # A REFI-QDA project import (evidence/refi_qda_api.py): the same doors as the spreadsheet import.
    Row("api/imports/refi-qda/", "/api/imports/refi-qda/",
        {"GET": per_role(401, 405, 405, 405, 405), "POST": per_role(401, 403, 400, 400, 400)},
        api=True, data={"programme": "ctg"}),
    # Imports in the background (evidence/import_api.py): the list is the caller's runs and those of the
    # programmes they write in; starting one needs a programme to write in (analysts: 403) and a file
    # (a JSON body has none: 400). The corpus's run is the evaluator's dry run: an analyst cannot see
    # it (404); an undo of it is refused as a 409 (a dry run wrote nothing).
    Row("api/^imports/$", "/api/imports/", {"GET": per_role(401, 200, 200, 200, 200),
                                            "POST": per_role(401, 403, 400, 400, 400)}, api=True, data={"programme": "ctg"}),
    Row("api/^imports\\.(?P<format>[a-z0-9]+)/?$", "/api/imports.json", {"GET": per_role(401, 200, 200, 200, 200)}, api=True),
    Row("api/^imports/(?P<pk>[0-9]+)/$", "/api/imports/{pk:evidence.importrun}/",
        {"GET": per_role(401, 404, 200, 200, 200), "PATCH": per_role(401, 405, 405, 405, 405),
         "DELETE": per_role(401, 405, 405, 405, 405)}, api=True),
    Row("api/^imports/(?P<pk>[0-9]+)/$", "/api/imports/999999/", {"GET": per_role(401, 404, 404, 404, 404)}, api=True),
    Row("api/^imports/(?P<pk>[0-9]+)\\.(?P<format>[a-z0-9]+)/?$", "/api/imports/{pk:evidence.importrun}.json",
        {"GET": per_role(401, 404, 200, 200, 200)}, api=True),
    Row("api/^imports/(?P<pk>[0-9]+)/undo/$", "/api/imports/{pk:evidence.importrun}/undo/",
        {"GET": per_role(401, 405, 405, 405, 405), "POST": per_role(401, 404, 409, 409, 409)}, api=True),
    Row("api/^imports/(?P<pk>[0-9]+)/undo\\.(?P<format>[a-z0-9]+)/?$", "/api/imports/{pk:evidence.importrun}/undo.json",
        {"POST": per_role(401, 404, 409, 409, 409)}, api=True),
    Row("api/matrix/", "/api/matrix/", {"GET": per_role(400, 400, 400, 400, 400)}, api=True),  # rows and cols are required
    # Inter-coder agreement (evidence/agreement_api.py): a read of a source anyone may see; source and
    # coders are required (a 400 naming them).
    Row("api/agreement/", "/api/agreement/?source={source}&coders={username:lead},{username:analyst}",
        {"GET": EVERYONE_200, "POST": API_NOT_ALLOWED}, api=True),
    Row("api/agreement/", "/api/agreement/", {"GET": per_role(400, 400, 400, 400, 400)}, api=True),
    Row("api/matrix/", "/api/matrix/?rows=team&cols=wish_dimension&format=csv", {"GET": EVERYONE_200}, api=True),
    Row("api/matrix/", "/api/matrix/?rows=team&cols=mechanism&status=draft", {"GET": per_role(403, 403, 200, 200, 200)}, api=True),
    # Tokens: anyone may exchange a password (a wrong one is a 400); issuing one needs an account.
    Row("api/auth/token/", "/api/auth/token/", {"GET": per_role(405, 405, 405, 405, 405),
                                                "POST": per_role(400, 400, 400, 400, 400)},
        api=True, data={"username": "nobody", "password": "wrong"}),
    Row("api/auth/tokens/", "/api/auth/tokens/", {"GET": per_role(401, 405, 405, 405, 405),
                                                  "POST": per_role(401, 403, 403, 403, 200)},
        api=True, data=lambda values: {"username": values["username:superuser"]}),
    Row("api/auth/tokens/", "/api/auth/tokens/", {"POST": per_role(401, 403, 200, 200, 200)},
        api=True, data=lambda values: {"username": values["username:analyst"]}),
    Row("api/auth/me/", "/api/auth/me/", {"GET": EVERYONE_200, "POST": API_NOT_ALLOWED}, api=True),
    Row("api/schema/", "/api/schema/", {"GET": EVERYONE_200}, api=True),
    Row("api/docs/", "/api/docs/", {"GET": EVERYONE_200}, api=True),
    Row("api/redoc/", "/api/redoc/", {"GET": EVERYONE_200}, api=True),
    # ReDoc's bundle without its vendor's CDN logo (cmo_kb/api_docs.py): public, like the page.
    Row("api/redoc/redoc.standalone.js", "/api/redoc/redoc.standalone.js", {"GET": EVERYONE_200}, api=True),
    # The REFI-QDA downloads: published for everyone, drafts for evaluators only.
    Row("api/export/qdpx/", "/api/export/qdpx/", {"GET": EVERYONE_200, "POST": per_role(405, 405, 405, 405, 405)}, api=True),
    Row("api/export/qdpx/", "/api/export/qdpx/?include_drafts=1", {"GET": per_role(403, 403, 200, 200, 200)}, api=True),
    Row("api/export/qdc/", "/api/export/qdc/", {"GET": EVERYONE_200, "POST": per_role(405, 405, 405, 405, 405)}, api=True),
    Row("api/export/qdc/", "/api/export/qdc/?include_drafts=1", {"GET": per_role(403, 403, 200, 200, 200)}, api=True),
]


# --- the public pages -----------------------------------------------------------------------------

# Pages only read: a POST is not allowed, whoever sends it.
PAGE = {"GET": EVERYONE_200, "POST": per_role(405, 405, 405, 405, 405)}
GONE = per_role(404, 404, 404, 404, 404)
MOVED_PAGE = {"GET": per_role(MOVED, MOVED, MOVED, MOVED, MOVED), "POST": per_role(405, 405, 405, 405, 405)}
# The public pages show published knowledge only, to evaluators too (they see drafts in the admin).
PAGE_ROWS = [
    Row("", "/", PAGE),
    # Starting a programme: evaluators only (analysts are told why); an empty form is a 400 naming
    # the fields it needs.
    Row("programmes/new/", "/programmes/new/", {"GET": per_role(LOGIN, 403, 200, 200, 200),
                                                "POST": per_role(LOGIN, 403, 400, 400, 400)}),
    Row("programmes/<slug:programme>/", "/programmes/{programme}/", PAGE),
    Row("programmes/<slug:programme>/", "/programmes/no-such-programme/", {"GET": GONE}),
    Row("programmes/<slug:programme>/teams/", "/programmes/{programme}/teams/", PAGE),
    Row("programmes/<slug:programme>/teams/<slug:slug>/", "/programmes/{programme}/teams/{team}/", PAGE),
    Row("programmes/<slug:programme>/teams/<slug:slug>/", "/programmes/{programme}/teams/no-such-team/", {"GET": GONE}),
    Row("programmes/<slug:programme>/mechanisms/", "/programmes/{programme}/mechanisms/", PAGE),
    Row("programmes/<slug:programme>/mechanisms/<slug:slug>/", "/programmes/{programme}/mechanisms/{mechanism}/", PAGE),
    Row("programmes/<slug:programme>/mechanisms/<slug:slug>/", "/programmes/{programme}/mechanisms/no-such-mechanism/",
        {"GET": GONE}),
    Row("programmes/<slug:programme>/matrix/", "/programmes/{programme}/matrix/", PAGE),
    Row("programmes/<slug:programme>/matrix/", "/programmes/{programme}/matrix/?rows=team&cols=wish_dimension", PAGE),
    Row("programmes/<slug:programme>/configurations/", "/programmes/{programme}/configurations/", PAGE),
    Row("programmes/<slug:programme>/configurations/<slug:slug>/", "/programmes/{programme}/configurations/{configuration}/",
        PAGE),
    Row("programmes/<slug:programme>/configurations/<slug:slug>/", "/programmes/{programme}/configurations/{draft}/",
        {"GET": GONE}),
    Row("programmes/<slug:programme>/configurations/<slug:slug>/", "/programmes/{programme}/configurations/{in-review}/",
        {"GET": GONE}),
    Row("programmes/<slug:programme>/search/", "/programmes/{programme}/search/", PAGE),
    Row("programmes/<slug:programme>/theories/<slug:slug>/", "/programmes/{programme}/theories/{theory}/", PAGE),
    Row("programmes/<slug:programme>/theories/<slug:slug>/", "/programmes/{programme}/theories/no-such-theory/",
        {"GET": GONE}),
    Row("programmes/<slug:programme>/search/", "/programmes/{programme}/search/?q=control", PAGE),
    Row("wish/", "/wish/", PAGE),
    Row("wish/<slug:slug>/", "/wish/{wish-dimension}/", PAGE),
    Row("wish/<slug:slug>/", "/wish/no-such-dimension/", {"GET": GONE}),
    Row("quality-domains/", "/quality-domains/", PAGE),
    Row("quality-domains/<slug:slug>/", "/quality-domains/{quality-domain}/", PAGE),
    Row("quality-domains/<slug:slug>/", "/quality-domains/no-such-domain/", {"GET": GONE}),
    Row("excerpts/<int:pk>/", "/excerpts/{pk:evidence.evidenceexcerpt}/", PAGE),
    Row("excerpts/<int:pk>/", "/excerpts/999999/", {"GET": GONE}),
    # The addresses from before programmes: Closing the Gap's, moved under /programmes/ctg/.
    Row("teams/", "/teams/", MOVED_PAGE),
    Row("teams/<slug:slug>/", "/teams/{team}/", MOVED_PAGE),
    Row("mechanisms/", "/mechanisms/", MOVED_PAGE),
    Row("mechanisms/<slug:slug>/", "/mechanisms/{mechanism}/", MOVED_PAGE),
    Row("matrix/", "/matrix/?rows=team&cols=wish_dimension", MOVED_PAGE),
    Row("configurations/", "/configurations/", MOVED_PAGE),
    Row("configurations/<slug:slug>/", "/configurations/{configuration}/", MOVED_PAGE),
    Row("search/", "/search/?q=control", MOVED_PAGE),
]

MATRIX = ADMIN_ROWS + API_ROWS + PAGE_ROWS


# --- the corpus and the clients ------------------------------------------------------------------

DRAFT = "matrix-draft"
IN_REVIEW = "matrix-in-review"


@pytest.fixture(scope="module")
def corpus(django_db_setup, django_db_blocker):
    """The CtG corpus loaded once for the module (rolled back at its end), plus a draft and a
    configuration in review, one user per role; returns the values the URL templates use."""
    import io

    from django.core.management import call_command
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_ctg", stdout=io.StringIO())
        values = _corpus_values()
        yield values
        transaction.set_rollback(True)


def _corpus_values():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType
    from rest_framework.authtoken.models import Token, TokenProxy

    from cmo_kb.vocabulary import ANALYST_GROUP, EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP, ReviewStatus
    from evidence.models import EvidenceExcerpt, EvidenceLink
    from mechanisms.models import CMOConfiguration
    from projects.models import Programme, ProgrammeMembership

    User = get_user_model()
    users = {}
    for role, group, staff in (("analyst", ANALYST_GROUP, False), ("evaluator", EVALUATOR_GROUP, True),
                               ("lead", LEAD_EVALUATOR_GROUP, True), ("superuser", None, True)):
        user = User.objects.create_user(f"matrix-{role}", password=None, is_staff=staff, is_superuser=role == "superuser")
        if group:
            user.groups.add(Group.objects.get(name=group))
            ProgrammeMembership.objects.create(programme=Programme.objects.get(slug="ctg"), user=user,
                                               role={ANALYST_GROUP: "analyst", EVALUATOR_GROUP: "evaluator",
                                                     LEAD_EVALUATOR_GROUP: "lead"}[group])
        users[role] = user

    # One sign-in lockout record of each kind, so the axes admin pages have a row to show.
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    AccessAttempt.objects.create(username="matrix-nobody", ip_address="127.0.0.1", user_agent="matrix",
                                 get_data="", post_data="", http_accept="", path_info="/admin/login/",
                                 failures_since_start=1)
    AccessLog.objects.create(username="matrix-nobody", ip_address="127.0.0.1", user_agent="matrix",
                             http_accept="", path_info="/admin/login/")
    AccessFailureLog.objects.create(username="matrix-nobody", ip_address="127.0.0.1", user_agent="matrix",
                                    http_accept="", path_info="/admin/login/", locked_out=False)

    published = CMOConfiguration.objects.published().filter(evidence_links__isnull=False, contexts__isnull=False,
                                                              outcomes__isnull=False).order_by("slug").first()
    link = published.evidence_links.order_by("pk").first()

    def unpublished(slug, status):
        c = CMOConfiguration.objects.create(slug=slug, title=slug, statement="In C, M leads to O.",
                                            mechanism=published.mechanism, status=status)
        c.teams.set(published.teams.all())
        c.contexts.set(published.contexts.all())
        c.outcomes.set(published.outcomes.all())
        return c

    draft = unpublished(DRAFT, ReviewStatus.DRAFT)
    unpublished(IN_REVIEW, ReviewStatus.IN_REVIEW)
    draft_link = EvidenceLink.objects.create(excerpt=link.excerpt, configuration=draft, part="context")
    excerpt = link.excerpt
    context, outcome = published.contexts.order_by("slug").first(), published.outcomes.order_by("slug").first()
    team = published.teams.order_by("slug").first()

    values = {
        "configuration": published.slug, "draft": draft.slug, "in-review": IN_REVIEW, "link": link.pk,
        "draft-link": draft_link.pk, "team": team.slug, "programme": team.programme.slug,
        "mechanism": published.mechanism.slug, "context": context.slug, "outcome": outcome.slug,
        "outcome-kind": outcome.kind.slug, "excerpt": excerpt.slug, "source": excerpt.source.slug,
        "pk:draft": draft.pk, "pk:draft-link": draft_link.pk,
    }
    # Vocabulary rows that published configurations use (so deleting them must be refused).
    shift = published.wish_shifts.first() or CMOConfiguration.objects.published().filter(
        wish_shifts__isnull=False).first().wish_shifts.first()
    values["wish-dimension"] = shift.dimension.slug
    values["relationship-pair"] = shift.between.slug
    themed = CMOConfiguration.objects.published().filter(theme__isnull=False).order_by("slug").first()
    values["theme"] = themed.theme.slug
    pathway = CMOConfiguration.objects.published().filter(pathways__isnull=False).order_by("slug").first()
    values["pathway"] = pathway.pathways.order_by("slug").first().slug
    values["quality-domain"] = published.quality_domains.order_by("slug").first().slug if published.quality_domains.exists() \
        else CMOConfiguration.objects.published().filter(quality_domains__isnull=False).first().quality_domains.first().slug
    from projects.models import RelationshipLevel

    values["relationship-level"] = RelationshipLevel.objects.order_by("slug").first().slug
    from evidence.models import EvaluationWave, SpeakerRole

    values["speaker-role"] = SpeakerRole.objects.filter(excerpts__isnull=False).order_by("slug").first().slug
    values["wave"] = EvaluationWave.objects.order_by("slug").first().slug  # no excerpt names a wave yet

    # The crosswalk: the published configuration's mechanism is a case of a shared framework concept.
    from mechanisms.models import ConceptMapping, Framework, FrameworkConcept

    if not ConceptMapping.objects.exists():
        framework = Framework.objects.order_by("pk").first() or Framework.objects.create(slug="matrix-framework",
                                                                                         name="Matrix framework")
        concept = framework.concepts.order_by("pk").first() or FrameworkConcept.objects.create(
            framework=framework, slug="matrix-concept", name="Matrix concept")
        ConceptMapping.objects.create(programme=published.programme, concept=concept, mechanism=published.mechanism)
    mapping = ConceptMapping.objects.order_by("pk").first()
    # A chain link between two published configurations of one programme (mechanisms/chains.py).
    from mechanisms.chains import ConfigurationChain

    if not ConfigurationChain.objects.exists():
        following = CMOConfiguration.objects.published().filter(programme=published.programme).exclude(
            pk=published.pk).order_by("slug").first()
        ConfigurationChain.objects.create(from_configuration=published, to_configuration=following, note="Leads on.")
    values["chain"] = ConfigurationChain.objects.order_by("pk").first().pk
    values["concept-mapping"] = mapping.pk
    # Closing the Gap's programme theory, as load_ctg records it (fixtures/ctg/theories.yaml).
    from mechanisms.theories import ProgrammeTheory

    values["theory"] = ProgrammeTheory.objects.order_by("slug").first().slug
    values["framework"] = mapping.concept.framework.slug

    # A code with a coding, a memo about it and a relation from it (evidence/codes.py).
    from evidence.codes import Code, Coding, Memo, Relation

    code = Code.objects.create(programme=published.programme, name="Matrix code")
    values["code"] = code.pk
    values["coding"] = Coding.objects.create(excerpt=excerpt, code=code).pk
    Memo.objects.create(programme=published.programme, name="Matrix memo", text="About the matrix code.").codes.add(code)
    Relation.objects.create(programme=published.programme, name="Matrix relation", origin_code=code, target_excerpt=excerpt)
    # An import run: the evaluator's dry run of a spreadsheet in ctg, ended, its file gone.
    from evidence.import_runs import ImportRun

    ImportRun.objects.create(user=users["evaluator"], programme=Programme.objects.get(slug="ctg"),
                             kind="configurations", file_name="matrix.csv", dry_run=True, status="done", done=1, total=1,
                             report={"file": "matrix.csv", "dry_run": True, "written": False, "counts": [],
                                     "entries": [], "errors": [], "notes": []})

    # One row (and one history record of it) of every model in the admin; for configurations and
    # their evidence links, the published one.
    chosen = {"mechanisms.cmoconfiguration": published, "evidence.evidencelink": link,
              "evidence.evidenceexcerpt": excerpt, "auth.user": users["analyst"],
              "authtoken.tokenproxy": TokenProxy.objects.get(pk=Token.objects.create(user=users["analyst"]).pk)}
    for model in admin_site._registry:
        label = model._meta.label_lower
        obj = chosen.get(label) or model._default_manager.order_by("pk").first()
        assert obj is not None, f"the corpus has no {label} to fill the admin URLs with"
        values[f"pk:{label}"] = obj.pk
        values[f"ct:{label}"] = ContentType.objects.get_for_model(model).pk
        history = getattr(model, "history", None)
        if history is not None:
            values[f"history:{label}"] = history.filter(**{model._meta.pk.attname: obj.pk}).latest().history_id
            values[f"revert:{label}"] = _revert_data(model, obj, values[f"history:{label}"], users["superuser"])
    values["history:draft"] = CMOConfiguration.history.filter(id=draft.pk).latest().history_id
    values["revert:draft"] = _revert_data(CMOConfiguration, draft, values["history:draft"], users["superuser"])
    values["users"] = users
    values["tokens"] = {role: Token.objects.get_or_create(user=user)[0].key for role, user in users.items()}
    values["username:analyst"] = users["analyst"].username
    values["username:superuser"] = users["superuser"].username
    values["username:lead"] = users["lead"].username
    values["clients"] = _clients(values)
    return values


def _revert_data(model, obj, history_id, user):
    """The form data the admin's history page of `history_id` posts when "Revert" is pressed."""
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    request._history_version_id = history_id
    model_admin = admin_site._registry[model]
    version = model.history.get(history_id=history_id).instance
    form = model_admin.get_form(request, version)(instance=version)
    data = {}
    for bound in form:
        value = bound.value()
        if value is None or value is False:
            continue
        data[bound.html_name] = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value)
    return data


def _clients(values):
    """One client per role and kind, kept for the module (signing in per request would double its cost):
    the API's with a token, as analysts' scripts are; the admin's and pages' with a session."""
    from django.test import Client
    from rest_framework.test import APIClient

    clients = {(role, True): APIClient() for role in ROLES}
    clients.update({(role, False): Client() for role in ROLES})
    for role in ROLES[1:]:
        clients[role, True].credentials(HTTP_AUTHORIZATION="Token " + values["tokens"][role])
        clients[role, False].force_login(values["users"][role])
    return clients


def fill(template, values):
    """The URL of a row: each {key} replaced by values[key] (keys hold ':' and '.', so not str.format)."""
    return re.sub(r"\{([^{}]+)\}", lambda m: str(values[m.group(1)]), template)


def check(response, expected):
    status = response.status_code
    location = response.get("Location", "")
    if expected == LOGIN:
        return status == 302 and location.startswith("/admin/login/")
    if expected == MOVED:
        return status in (301, 302) and not location.startswith("/admin/login/")
    if expected == CLIENT_ERROR:
        return 400 <= status < 500
    return status == expected


# --- the tests ---------------------------------------------------------------------------------------


def walk(resolver=None, prefix=""):
    """Every URL pattern as its full route string: the patterns' own strings joined."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry, prefix + str(entry.pattern))
        else:
            assert isinstance(entry, URLPattern)
            yield prefix + str(entry.pattern)


def matched_route(pattern):
    """`pattern` (from walk) as ResolverMatch.route spells it: without the "^" of nested regexes."""
    return re.sub(r"(?<=.)/\^", "/", pattern)


def test_every_url_pattern_has_a_row():
    patterns = set(walk())
    covered = {row.pattern for row in MATRIX}
    assert sorted(patterns - covered) == [], "URL patterns without a row in tests/integrity/test_url_matrix.py"
    assert sorted(covered - patterns) == [], "rows for URL patterns that no longer exist"


def test_every_admin_model_is_listed():
    registered = {model._meta.label_lower for model in admin_site._registry}
    assert registered == set(ADMIN_MODELS)


def _request(corpus, row, method, role):
    """`method` of the row's URL as `role`, in a savepoint rolled back after it (a write one role is
    allowed must not change what the next role is asked)."""
    from django.core.cache import cache
    from django.db import transaction

    cache.clear()
    url = fill(row.url, corpus)
    client = corpus["clients"][role, row.api]
    data = row.data(corpus) if callable(row.data) else row.data
    with transaction.atomic():
        if method == "GET":
            response = client.get(url)
        elif row.api:
            response = getattr(client, method.lower())(url, data or {}, format="json")
        else:
            response = client.post(url, data or {})
        transaction.set_rollback(True)
    return response


def _describe(method, url, role, response, expected):
    return (f"{method} {url} as {role}: {response.status_code} {response.get('Location', '')}, expected {expected}: "
            + response.content[:200].decode("utf-8", "replace"))


def _rows_by_method():
    for row in MATRIX:
        for method, expectations in row.expect.items():
            if any(cell is not None and not isinstance(cell, Hole) for cell in expectations):
                yield pytest.param(row, method, id=f"{method} {row.url}")


def _holes():
    for row in MATRIX:
        for method, expectations in row.expect.items():
            for role, expected in zip(ROLES, expectations):
                if isinstance(expected, Hole):
                    yield pytest.param(row, method, role, expected.status, id=f"{method} {row.url} {role}",
                                       marks=pytest.mark.xfail(strict=True, reason=expected.reason))


@pytest.mark.parametrize(("row", "method"), list(_rows_by_method()))
def test_matrix(corpus, db, row, method):
    """Every role gets the status of its cell (Holes are left to test_hole)."""
    url = fill(row.url, corpus)
    match = resolve(url.split("?")[0])
    assert match.route == matched_route(row.pattern), f"{url} resolves to {match.route!r}, not the row's pattern"
    wrong = []
    for role, expected in zip(ROLES, row.expect[method]):
        if expected is None or isinstance(expected, Hole):
            continue
        response = _request(corpus, row, method, role)
        says = row.says and expected == 200
        if not check(response, expected) or (says and row.says not in response.content.decode("utf-8")):
            wrong.append(_describe(method, url, role, response, expected))
    assert wrong == []


@pytest.mark.parametrize(("row", "method", "role", "expected"), list(_holes()))
def test_hole(corpus, db, row, method, role, expected):
    """A cell the project does not answer yet as it should: fails until the fix lands, then XPASSes
    (strict), which is the signal to turn its Hole into a plain status."""
    response = _request(corpus, row, method, role)
    assert check(response, expected), _describe(method, fill(row.url, corpus), role, response, expected)
