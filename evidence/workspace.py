"""The coding workspace of a source (/admin/evidence/source/<id>/workspace/): from a passage to an
evidenced configuration without leaving the text.

The page (workspace_view) renders the source's full text so that the DOM text equals
``Source.full_text`` exactly, cut into <span>s at every excerpt boundary and heading, each carrying the
code-point offset it starts at (data-s). static/evidence/workspace.js turns a selection into offsets
from those attributes: the offset of a boundary is its span's data-s plus the code points of the span's
text before it. A DOM offset counts UTF-16 units, so an astral character (an emoji, "𝒳") would count
twice; counting code points of the text before it avoids that. The server then checks the span against
the text the browser saw (passage_view), as EvidenceExcerpt.clean() does on every save.

The JSON actions (POST, CSRF-protected, each in one transaction; errors are 400 naming the field, the
write rule and the publish lock 403 with their message, a stale save 409):
- passage/: create the excerpt at a span (or reuse the one with exactly that span), with its section
  from the outline and its team, speaker role and attribution from a printed attribution
  (evidence/attribution.py); then apply codes to it, and/or link it to a part of a configuration with
  a stance;
- configuration/: create a draft configuration, or save one from its card (title, statement, contexts,
  mechanism, theme, effect, outcomes; new contexts and outcomes by name), starting from the version
  the card was read at (cmo_kb/concurrency.py): a save from an older version is refused with who
  changed it, and nothing is overwritten.
"""

import json
import re

from django import forms
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.http import HttpResponseNotAllowed

from cmo_kb import concurrency
from cmo_kb.vocabulary import ReviewStatus
from mechanisms.publish_lock import PublishedKnowledgeLocked
from projects.admin import stamp_user
from projects.membership import ProgrammeWriteRefused, can_write
from projects.programme_admin import admin_visible

from .attribution import find_attribution
from .codes import Code, Coding
from .documents import section_at
from .models import EvidenceExcerpt, EvidenceLink, ExcerptKind, Part, SpeakerRole, Stance

PART_LETTERS = {Part.CONTEXT: "C", Part.MECHANISM: "M", Part.OUTCOME: "O"}

# A plain-text source has no outline of its own (documents.py reads headings from structured formats
# only); its numbered top-level headings ("4 Factors that play a role…") and appendices (the PDF
# extraction writes a Greek capital alpha in "Αppendix") stand in, so passages still get a section.
_NUMBERED_HEADING = re.compile(r"(?m)^(?:\d{1,2}(?:\.\d{1,2})*\.? +[A-Z][^\n\t]{2,100}|[AΑ]ppendix \d+: [^\n\t]{2,100})$")


# --- The outline -------------------------------------------------------------------------------


def outline_of(source):
    """The source's headings [{level, title, start}]: its stored outline, else the numbered headings
    of its text. Deduplicated by title at the first heading (a table of contents repeats them)."""
    if source.outline:
        return [h for h in source.outline if isinstance(h, dict) and "start" in h and "title" in h]
    headings, seen = [], set()
    for match in _NUMBERED_HEADING.finditer(source.full_text):
        title = match.group(0).strip()
        headings.append({"level": title.split(" ", 1)[0].count(".") + 1 if title[0].isdigit() else 1,
                         "title": title, "start": match.start()})
        seen.add(title)
    return headings


# --- The text ----------------------------------------------------------------------------------


def _escape_exact(chunk):
    # The HTML parser turns a literal CR into LF; a character reference keeps it a CR.
    return str(escape(chunk)).replace("\r", "&#13;")


def render_workspace_text(text, excerpts, outline, tags):
    """HTML whose text content is exactly `text`: a <span data-s> per stretch between excerpt
    boundaries and headings; stretches inside excerpts are <mark>s naming them (data-excerpts), the
    first stretch of each excerpt carrying its margin label (data-tags, shown by CSS, never text)."""
    length = len(text)
    bounds = {0, length}
    for e in excerpts:
        bounds.update((min(max(e.start, 0), length), min(max(e.end, 0), length)))
    heading_at = {}
    for index, heading in enumerate(outline):
        start = min(max(int(heading["start"]), 0), length)
        bounds.add(start)
        heading_at.setdefault(start, index)
    bounds = sorted(bounds)
    parts, labelled = [], set()
    for a, b in zip(bounds, bounds[1:]):
        if a in heading_at:
            parts.append(f'<a id="ws-h-{heading_at[a]}" class="ws-heading"></a>')
        if a == b:
            continue
        covering = [e for e in excerpts if e.start <= a and e.end >= b]
        chunk = _escape_exact(text[a:b])
        if not covering:
            parts.append(f'<span data-s="{a}">{chunk}</span>')
            continue
        ids = " ".join(str(e.pk) for e in covering)
        label = " | ".join(tags.get(e.pk, "") for e in covering if e.pk not in labelled and tags.get(e.pk))
        anchors = "".join(f'<a id="excerpt-{e.pk}" class="excerpt-anchor"></a>' for e in covering if e.pk not in labelled)
        labelled.update(e.pk for e in covering)
        kinds = {"ws-coded" if "code:" in tags.get(e.pk, "") else "" for e in covering}
        kinds |= {"ws-linked" if "·" in tags.get(e.pk, "") else "" for e in covering}
        cls = " ".join(["ws-excerpt", "ws-overlap" if len(covering) > 1 else "", *sorted(kinds)]).split()
        tag_attr = f' data-tags="{escape(label)}"' if label else ""
        parts.append(f'{anchors}<mark class="{" ".join(cls)}" data-s="{a}" data-excerpts="{ids}"{tag_attr}>{chunk}</mark>')
    return mark_safe("".join(parts))


def excerpt_tags(excerpts, user):
    """{excerpt pk: "code:Control code:Fear · C shc-control · M shc-fear"}: which codes and which
    configurations (and part) each excerpt serves. Two queries."""
    tags = {e.pk: [] for e in excerpts}
    codings = visible_codings(Coding.objects.filter(excerpt__in=[e.pk for e in excerpts]), user)
    for excerpt_id, name in codings.order_by("code__order", "code__name").values_list("excerpt_id", "code__name").distinct():
        tags[excerpt_id].append(f"code:{name}")
    links = (EvidenceLink.objects.filter(excerpt__in=[e.pk for e in excerpts])
             .filter(configuration__in=admin_visible(_configurations(), user))
             .values_list("excerpt_id", "part", "configuration__slug"))
    for excerpt_id, part, slug in links:
        tags[excerpt_id].append(f"· {PART_LETTERS.get(part, '?')} {slug}")
    return {pk: " ".join(values) for pk, values in tags.items()}


def visible_codings(codings, user):
    """The codings `user` sees in the workspace: a blind comparison narrows them to the coder's own
    (evidence/blind_coding.py)."""
    from evidence.blind_coding import visible_codings as unblinded

    return unblinded(codings, user)


def _configurations():
    from mechanisms.models import CMOConfiguration

    return CMOConfiguration.objects.all()


# --- The configuration card --------------------------------------------------------------------


def card(configuration):
    """The card of a configuration, as the page and the JSON actions give it. Costs five queries."""
    links = (configuration.evidence_links.select_related("excerpt").order_by("part", "excerpt__start"))
    return {
        "id": configuration.pk,
        "slug": configuration.slug,
        "version": concurrency.token_of(configuration),
        "status": configuration.status,
        "title": configuration.title,
        "statement": configuration.statement,
        "contexts": [{"id": c.pk, "name": c.name} for c in configuration.contexts.order_by("order", "name")],
        "mechanism": configuration.mechanism_id,
        "theme": configuration.theme_id,
        "effect": configuration.effect,
        "outcomes": [{"id": o.pk, "name": o.name} for o in configuration.outcomes.order_by("order", "name")],
        "evidence": [{"id": link.pk, "part": link.part, "stance": link.stance, "excerpt": link.excerpt_id,
                      "start": link.excerpt.start, "end": link.excerpt.end, "text": _short(link.excerpt.text)}
                     for link in links],
        "problems": configuration.publication_problems(),
        "change_url": reverse("admin:mechanisms_cmoconfiguration_change", args=[configuration.pk]),
    }


def _short(text, limit=140):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Responses ---------------------------------------------------------------------------------


def _errors(errors, status=400):
    return JsonResponse({"errors": errors}, status=status)


def _field_errors(error):
    if hasattr(error, "error_dict"):
        return {field: [str(m) for e in errors for m in e.messages] for field, errors in error.error_dict.items()}
    return {"__all__": [str(m) for m in error.messages]}


def _refused(error):
    return JsonResponse({"detail": error.message, "errors": {"__all__": [error.message]}}, status=403)


def _json_body(request):
    if request.content_type != "application/json":
        raise _BadInput({"body": ["Send a JSON object (Content-Type: application/json)."]})
    try:
        body = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        raise _BadInput({"body": ["The body is not JSON."]}) from None
    if not isinstance(body, dict):
        raise _BadInput({"body": ["The body must be a JSON object."]})
    return body


class _BadInput(Exception):
    def __init__(self, errors):
        self.errors = errors
        super().__init__(errors)


def _integer(body, name, required=True):
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise _BadInput({name: ["This field is required."]})
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().lstrip("-").isdigit():
        raise _BadInput({name: [f"'{value}' is not a whole number."]})
    return int(value)


def _integers(body, name):
    value = body.get(name, [])
    if not isinstance(value, list):
        raise _BadInput({name: ["A list of ids is expected."]})
    return [_integer({name: item}, name) for item in value]


def _text(body, name, limit=None):
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or "\x00" in value:
        raise _BadInput({name: ["Text is expected."]})
    if limit is not None and len(value) > limit:
        raise _BadInput({name: [f"At most {limit} characters."]})
    return value


def _choice(body, name, choices, default):
    value = body.get(name) or default
    if value not in choices.values:
        raise _BadInput({name: [f"'{value}' is not one of {', '.join(choices.values)}."]})
    return value


# --- Views -------------------------------------------------------------------------------------


def _source_for(model_admin, request, object_id, write=False):
    """The source, if the user sees it in the admin (else 404); for a write, only if they write in
    its programme (else 403)."""
    from .models import Source

    source = get_object_or_404(admin_visible(Source.objects.select_related("programme"), request.user),
                               pk=unquote(object_id) if str(object_id).isdigit() else -1)
    if not model_admin.has_view_permission(request, source):
        raise PermissionDenied
    if write and not can_write(request.user, source.programme):
        raise ProgrammeWriteRefused(source.programme, (
            f"You do not write in the programme '{source.programme.slug}': only its evaluators and lead "
            "evaluators can code its sources."))
    return source


def workspace_view(model_admin, request, object_id):
    """The workspace page. Queries: session, user, source, memberships, excerpts, codings, links,
    codes, configurations, contexts, mechanisms, themes, outcomes, the current card's."""
    from mechanisms.models import Context, EnablingMechanism, MechanismTheme, Outcome

    source = _source_for(model_admin, request, object_id)
    programme = source.programme
    writer = can_write(request.user, programme)
    excerpts = list(EvidenceExcerpt.objects.filter(source=source).order_by("start", "end"))
    outline = outline_of(source)
    drafts = (admin_visible(_configurations(), request.user).filter(programme=programme)
              .exclude(status=ReviewStatus.PUBLISHED).order_by("-updated_at", "slug"))
    current = None
    wanted = request.GET.get("configuration", "")
    if writer and wanted.isdigit():
        current = drafts.filter(pk=int(wanted)).first()
    options = {
        "codes": [{"id": c.pk, "name": c.name, "colour": c.colour}
                  for c in Code.objects.filter(programme=programme, codable=True).order_by("order", "name")],
        "contexts": list(Context.objects.filter(programme=programme).values("id", "name")),
        "mechanisms": list(EnablingMechanism.objects.filter(programme=programme).values("id", "name")),
        "themes": list(MechanismTheme.objects.filter(programme=programme).values("id", "name", "mechanism_id")),
        "outcomes": list(Outcome.objects.filter(programme=programme).values("id", "name")),
        "configurations": [{"id": c.pk, "title": c.title, "slug": c.slug} for c in drafts[:200]],
    }
    urls = {
        "passage": reverse("admin:evidence_source_workspace_passage", args=[source.pk]),
        "configuration": reverse("admin:evidence_source_workspace_configuration", args=[source.pk]),
    }
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Workspace: {source.title}",
        "subtitle": None,
        "opts": source._meta,
        "app_label": "evidence",
        "original": source,
        "source": source,
        "source_length": len(source.full_text),
        "text": render_workspace_text(source.full_text, excerpts, outline, excerpt_tags(excerpts, request.user)),
        "outline": [{"index": i, "title": h["title"], "level": int(h.get("level") or 1)} for i, h in enumerate(outline)],
        "writer": writer,
        "options": options,
        "current": card(current) if current is not None else None,
        "urls": urls,
        "stances": Stance.choices,
        "change_url": reverse("admin:evidence_source_change", args=[source.pk]),
        "media": forms.Media(js=["evidence/workspace.js"], css={"all": ["evidence/workspace.css"]}),
    }
    return TemplateResponse(request, "admin/evidence/source/workspace.html", context)


def _json_action(handler):
    """POST only; bad input 400 naming the field, refusals 403, nothing half-written."""

    def view(model_admin, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            source = _source_for(model_admin, request, object_id, write=True)
            body = _json_body(request)
            with transaction.atomic():
                return handler(request, source, body)
        except _BadInput as bad:
            return _errors(bad.errors)
        except (PublishedKnowledgeLocked, ProgrammeWriteRefused) as refused:
            return _refused(refused)
        except ValidationError as invalid:
            return _errors(_field_errors(invalid))
        except Http404 as missing:
            return JsonResponse({"detail": str(missing)}, status=404)

    return view


def _excerpt_at(request, source, body):
    """The excerpt of `source` at exactly [start, end), created if there is none."""
    start, end = _integer(body, "start"), _integer(body, "end")
    text = _text(body, "text")
    full = source.full_text
    if start < 0 or start > len(full):
        raise _BadInput({"start": [f"Start offset {start} is outside the text (0–{len(full)})."]})
    if end <= start or end > len(full):
        raise _BadInput({"end": [f"End offset {end} must be after the start and within the text ({len(full)} characters)."]})
    if text and text.replace("\r\n", "\n") != full[start:end].replace("\r\n", "\n"):
        raise _BadInput({"start": [f"The selection does not match the text between characters {start} and {end}: "
                                   f"the source has {full[start:end][:60]!r}. Reload the page."]})
    existing = EvidenceExcerpt.objects.filter(source=source, start=start, end=end).first()
    if existing is not None:
        return existing, False
    from projects.models import Team

    programme = source.programme
    attribution = find_attribution(full, start, end, list(Team.objects.filter(programme=programme)),
                                   list(SpeakerRole.objects.filter(programme=programme)))
    slug = base = f"{source.slug}-{start}-{end}"[:120]
    if EvidenceExcerpt.objects.filter(slug=slug).exists():
        slug = f"{base[:110]}-{EvidenceExcerpt.objects.count()}"
    section = section_at(outline_of(source), start, EvidenceExcerpt._meta.get_field("section").max_length)
    excerpt = EvidenceExcerpt(
        slug=slug, source=source, start=start, end=end, text=full[start:end], section=section,
        kind=ExcerptKind.PARTICIPANT_QUOTE if attribution else ExcerptKind.EVALUATOR_FINDING,
        team=(attribution.team if attribution else None) or _team_of_source(source),
        speaker_role=attribution.speaker_role if attribution else None,
        attribution=attribution.text[:300] if attribution else "",
    )
    stamp_user(excerpt, request.user, adding=True)
    excerpt.full_clean()  # the verbatim rule and the programme rule (EvidenceExcerpt.clean)
    excerpt.save()
    return excerpt, True


def _team_of_source(source):
    """The team a source is about, when its title names exactly one (a team's self-evaluation
    report); None for a cross-team report."""
    from projects.models import Team

    title = f" {source.title.casefold()} "
    found = [team for team in Team.objects.filter(programme=source.programme)
             if any(f" {name.casefold()} " in title for name in [team.name, team.short_name, *(team.aliases or [])] if name)]
    return found[0] if len(found) == 1 else None


def _configuration_for(request, source, pk, field="configuration"):
    configuration = (admin_visible(_configurations(), request.user)
                     .filter(programme=source.programme, pk=pk).select_related("programme").first())
    if configuration is None:
        raise _BadInput({field: [f"There is no configuration {pk} of the programme '{source.programme.slug}' you can change."]})
    return configuration


def _excerpt_json(excerpt):
    return {"id": excerpt.pk, "slug": excerpt.slug, "start": excerpt.start, "end": excerpt.end,
            "section": excerpt.section, "kind": excerpt.kind, "team": excerpt.team_id,
            "speaker_role": excerpt.speaker_role_id, "attribution": excerpt.attribution}


def passage(request, source, body):
    """Create (or find) the excerpt at a span; apply codes; link it to a configuration's part."""
    codes = _integers(body, "codes")
    configuration_id = _integer(body, "configuration", required=False)
    if not codes and configuration_id is None:
        raise _BadInput({"codes": ["Choose codes to apply, or a configuration to attach the passage to."]})
    if configuration_id is not None:
        part = _choice(body, "part", Part, None) if body.get("part") else None
        if part is None:
            raise _BadInput({"part": ["Say which part the passage speaks to: context, mechanism or outcome."]})
        stance = _choice(body, "stance", Stance, Stance.SUPPORTS)
        configuration = _configuration_for(request, source, configuration_id)
    excerpt, created = _excerpt_at(request, source, body)
    found = {c.pk: c for c in Code.objects.filter(programme=source.programme, pk__in=codes)}
    missing = [pk for pk in codes if pk not in found]
    if missing:
        raise _BadInput({"codes": [f"No code {', '.join(map(str, missing))} in the programme '{source.programme.slug}'."]})
    codings = []
    for pk in codes:
        coding = Coding.objects.filter(excerpt=excerpt, code=found[pk], coder=request.user).first()
        if coding is None:
            coding = Coding(excerpt=excerpt, code=found[pk], coder=request.user)
            stamp_user(coding, request.user, adding=True)
            coding.full_clean()
            coding.save()
        codings.append({"id": coding.pk, "code": pk, "name": found[pk].name})
    answer = {"excerpt": _excerpt_json(excerpt), "created": created, "codings": codings}
    if configuration_id is not None:
        concurrency.lock(configuration)
        link = EvidenceLink.objects.filter(excerpt=excerpt, configuration=configuration, part=part).first()
        if link is None:
            link = EvidenceLink(excerpt=excerpt, configuration=configuration, part=part, stance=stance)
        elif link.stance != stance:
            link.stance = stance
        stamp_user(link, request.user, adding=link.pk is None)
        link.full_clean(validate_unique=False)
        link.save()
        configuration.refresh_from_db()
        answer["link"] = {"id": link.pk, "part": part, "stance": stance}
        answer["configuration"] = card(configuration)
    return JsonResponse(answer, status=201 if created else 200)


def _new_term(model, programme, name, user, **extra):
    """A programme's context or outcome named `name`: the existing one of that name, else a new one."""
    name = " ".join(name.split())
    existing = model.objects.filter(programme=programme, name__iexact=name).first()
    if existing is not None:
        return existing
    base = slugify(name)[:70] or model._meta.model_name
    slug, n = base, 1
    while model.objects.filter(programme=programme, slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    term = model(programme=programme, slug=slug, name=name[:200], **extra)
    term.full_clean()
    term.save()
    return term


def configuration_action(request, source, body):
    """Create a draft configuration (no id), or save its card from the version it was read at."""
    from mechanisms.models import CMOConfiguration, Context, Effect, EnablingMechanism, MechanismTheme, Outcome, OutcomeKind

    programme = source.programme
    pk = _integer(body, "id", required=False)
    if pk is None:
        title = _text(body, "title", 300).strip() or f"Draft from {source.title}"[:300]
        base = slugify(title)[:100] or "configuration"
        slug, n = base, 1
        while CMOConfiguration.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        configuration = CMOConfiguration(programme=programme, slug=slug, title=title, status=ReviewStatus.DRAFT,
                                         statement=_text(body, "statement") or "In C, M leads to O (to be written).")
        stamp_user(configuration, request.user, adding=True)
        configuration.full_clean()
        configuration.save()
        return JsonResponse({"configuration": card(configuration)}, status=201)

    configuration = _configuration_for(request, source, pk, field="id")
    sent = _text(body, "version")
    if not sent:
        raise _BadInput({"version": ["Send the version the card was read at."]})
    concurrency.lock(configuration)
    current = concurrency.token_of(configuration)
    if sent.strip('"') != current:
        configuration.refresh_from_db()
        latest = configuration.history.order_by("-history_id").first()
        who = latest.history_user.get_username() if latest is not None and latest.history_user else "someone"
        when = f" at {latest.history_date:%H:%M}" if latest is not None else ""
        return JsonResponse({
            "detail": f"“{configuration.title}” was changed by {who}{when} after you opened it, so your change was "
                      "not saved. What you typed is kept on the card: reload the card to see the current version, "
                      "then make your change again.",
            "configuration": card(configuration),
        }, status=409)
    configuration = concurrency.save_changed_fields(type(configuration).objects.get(pk=pk))
    if "title" in body:
        title = _text(body, "title", 300).strip()
        if not title:
            raise _BadInput({"title": ["A configuration needs a title."]})
        configuration.title = title
    if "statement" in body:
        configuration.statement = _text(body, "statement").strip() or configuration.statement
    if "effect" in body:
        configuration.effect = _choice(body, "effect", Effect, Effect.TRIGGERED)
    if "mechanism" in body:
        mechanism = _integer(body, "mechanism", required=False)
        if mechanism is not None and not EnablingMechanism.objects.filter(programme=programme, pk=mechanism).exists():
            raise _BadInput({"mechanism": [f"No mechanism {mechanism} in the programme '{programme.slug}'."]})
        configuration.mechanism_id = mechanism
        if mechanism is None or (configuration.theme_id and configuration.theme.mechanism_id != mechanism):
            configuration.theme_id = None
    if "theme" in body:
        theme = _integer(body, "theme", required=False)
        if theme is not None and not MechanismTheme.objects.filter(programme=programme, pk=theme).exists():
            raise _BadInput({"theme": [f"No theme {theme} in the programme '{programme.slug}'."]})
        configuration.theme_id = theme
    stamp_user(configuration, request.user, adding=False)
    configuration.full_clean()
    configuration.save()
    for name, model in (("contexts", Context), ("outcomes", Outcome)):
        if name not in body:
            continue
        ids = _integers(body, name)
        terms = list(model.objects.filter(programme=programme, pk__in=ids))
        if len(terms) != len(set(ids)):
            missing = sorted(set(ids) - {t.pk for t in terms})
            raise _BadInput({name: [f"No {model._meta.verbose_name} {', '.join(map(str, missing))} in the programme '{programme.slug}'."]})
        getattr(configuration, name).set(terms)
    new_context = _text(body, "new_context", 200).strip()
    if new_context:
        configuration.contexts.add(_new_term(Context, programme, new_context, request.user))
    new_outcome = _text(body, "new_outcome", 200).strip()
    if new_outcome:
        kind = OutcomeKind.objects.order_by("order", "name").first()
        if kind is None:
            raise _BadInput({"new_outcome": ["There is no outcome kind yet: add one in the workbench first."]})
        configuration.outcomes.add(_new_term(Outcome, programme, new_outcome, request.user, kind=kind))
    configuration.refresh_from_db()
    return JsonResponse({"configuration": card(configuration)})


passage_view = _json_action(passage)
configuration_view = _json_action(configuration_action)


def workspace_link(source):
    from django.utils.html import format_html

    return format_html('<a href="{}">Workspace</a>', reverse("admin:evidence_source_workspace", args=[source.pk]))

