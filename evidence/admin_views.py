"""Admin pieces for evidence: the coding page and the excerpt autocomplete with a useful label.

Coding page (/admin/evidence/source/<id>/code/): the source's full text rendered so that the DOM text
equals `Source.full_text` exactly, with existing excerpts as <mark>s. static/curation/coding.js turns a
selection into character offsets (code points, as EvidenceExcerpt.clean counts them) and opens the
excerpt add form with source, start, end and text as GET parameters.
"""

from django import forms
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from .models import EvidenceExcerpt, Source

LABEL_TEXT_CHARS = 70


def excerpt_label(excerpt):
    """'SHC · Patient · “I feel more in control…”': team, speaker role and the start of the text.

    Reads excerpt.team and excerpt.speaker_role: select_related them.
    """
    team = excerpt.team.short_name if excerpt.team_id else "no team"
    role = excerpt.speaker_role.name if excerpt.speaker_role_id else excerpt.get_kind_display()
    text = " ".join(excerpt.text.split())
    if len(text) > LABEL_TEXT_CHARS:
        text = text[: LABEL_TEXT_CHARS - 1] + "…"
    return f"{team} · {role} · “{text}” [{excerpt.slug}]"


def excerpt_label_queryset():
    return EvidenceExcerpt.objects.select_related("team", "speaker_role")


class ExcerptChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return excerpt_label(obj)


class ExcerptAutocompleteSelect(AutocompleteSelect):
    """The admin's select2 autocomplete, asking our excerpt endpoint for labelled results."""

    url_name = "%s:evidence_evidenceexcerpt_autocomplete"


class ExcerptAutocompleteJsonView(AutocompleteJsonView):
    def get_queryset(self):
        return super().get_queryset().select_related("team", "speaker_role")

    def serialize_result(self, obj, to_field_name):
        return {"id": str(getattr(obj, to_field_name)), "text": excerpt_label(obj)}


class ExcerptAutocompleteMixin:
    """For admins and inlines with a foreign key to EvidenceExcerpt: labelled autocomplete."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.remote_field.model is EvidenceExcerpt:
            kwargs.setdefault("widget", ExcerptAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using")))
            kwargs.setdefault("queryset", excerpt_label_queryset())
            kwargs.setdefault("form_class", ExcerptChoiceField)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _segments(text, excerpts):
    """Split `text` at every excerpt boundary: [(start, end, [excerpt, ...])], covering all of it."""
    length = len(text)
    bounds = {0, length}
    for e in excerpts:
        bounds.add(min(max(e.start, 0), length))
        bounds.add(min(max(e.end, 0), length))
    bounds = sorted(bounds)
    segments = []
    for a, b in zip(bounds, bounds[1:]):
        if a == b:
            continue
        covering = [e for e in excerpts if e.start <= a and e.end >= b]
        segments.append((a, b, covering))
    return segments


def _escape_exact(chunk):
    # The HTML parser turns a literal CR into LF; a character reference keeps it a CR, so the DOM
    # text stays equal to the source text.
    return str(escape(chunk)).replace("\r", "&#13;")


def render_coded_text(text, excerpts):
    """HTML whose text content is exactly `text`; excerpt spans are <mark>s carrying their offsets."""
    parts = []
    first_seen = set()
    for a, b, covering in _segments(text, excerpts):
        chunk = _escape_exact(text[a:b])
        if not covering:
            parts.append(chunk)
            continue
        anchors = "".join(
            f'<a id="excerpt-{e.pk}" class="excerpt-anchor"></a>' for e in covering if e.pk not in first_seen
        )
        first_seen.update(e.pk for e in covering)
        ids = " ".join(str(e.pk) for e in covering)
        title = escape("; ".join(f"{e.slug} ({e.start}–{e.end})" for e in covering))
        cls = "excerpt overlap" if len(covering) > 1 else "excerpt"
        parts.append(
            f'{anchors}<mark class="{cls}" data-start="{a}" data-end="{b}" data-excerpts="{ids}" title="{title}">{chunk}</mark>'
        )
    return mark_safe("".join(parts))


def coding_view(model_admin, request, object_id):
    """The coding page of one source. Queries: session/user, the source (with its programme), the
    user's memberships, its excerpts (with team, role). A source of a programme the user does not
    see does not exist here; excerpts are added only by those who write in its programme."""
    from projects.membership import can_write
    from projects.programme_admin import admin_visible

    source = get_object_or_404(admin_visible(Source.objects.select_related("programme"), request.user), pk=object_id)
    if not model_admin.has_view_permission(request, source):
        raise PermissionDenied
    excerpts = list(
        EvidenceExcerpt.objects.filter(source=source)
        .select_related("team", "speaker_role")
        .order_by("start", "end")
    )
    excerpt_admin = model_admin.admin_site.get_model_admin(EvidenceExcerpt)
    can_add = excerpt_admin.has_add_permission(request) and can_write(request.user, source.programme)
    opts = Source._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Code evidence: {source.title}",
        "subtitle": None,
        "opts": opts,
        "app_label": opts.app_label,
        "original": source,
        "source": source,
        "source_length": len(source.full_text),
        "coded_text": render_coded_text(source.full_text, excerpts),
        "excerpts": [(e, excerpt_label(e)) for e in excerpts],
        "can_add_excerpt": can_add,
        "add_excerpt_url": reverse("admin:evidence_evidenceexcerpt_add"),
        "change_url": reverse("admin:evidence_source_change", args=[source.pk]),
        "media": forms.Media(js=["curation/coding.js"], css={"all": ["curation/curation.css"]}),
    }
    return TemplateResponse(request, "admin/evidence/source/code.html", context)


def coding_link(source):
    return format_html('<a href="{}">Code evidence</a>', reverse("admin:evidence_source_code", args=[source.pk]))
