"""Query parameters of the REST API: filters that refuse bad values, and the filter backend that
refuses unknown parameters.

Conventions every resource follows (and the OpenAPI description repeats):
- A filter takes several values, comma-separated (``team=camhs,pathway``) or repeated
  (``team=camhs&team=pathway``); a row matches any of them. Different filters combine with AND.
- A bad value (unknown slug, bad choice, malformed number or date, unknown parameter) is a 400 whose
  body maps the parameter to what was wrong and what it accepts: ``{"team": ["Unknown team 'x'.
  Accepted: camhs, mums-power, …."]}``. Never an empty 200, never a 500.
"""

from datetime import datetime, timedelta

import django_filters
from django import forms
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.drainage import set_override
from rest_framework import exceptions

# --- Query parameters holding several values --------------------------------------------------


class ListWidget(forms.TextInput):
    """Reads ``p=a,b`` and ``p=a&p=b`` (and both mixed) as ['a', 'b']; blanks and repeats dropped.
    Rendered (in the browsable API's filter form) as one text box holding the comma list."""

    def format_value(self, value):
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        return super().format_value(value)

    def value_from_datadict(self, data, files, name):
        raw = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        values = []
        for chunk in raw:
            for value in (chunk or "").split(","):
                value = value.strip()
                if value and value not in values:
                    values.append(value)
        return values

    def value_omitted_from_data(self, data, files, name):
        return name not in data


class ListField(forms.Field):
    widget = ListWidget

    def __init__(self, *, parse=None, **kwargs):
        self.parse = parse
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        values = list(value or [])
        return [self.parse(v) for v in values] if self.parse else values


def _accepts(values, limit=40):
    values = [str(v) for v in values]
    shown = ", ".join(values[:limit])
    return shown + (f" (and {len(values) - limit} more)" if len(values) > limit else "") if values else "(none yet)"


def _schema(filter_, description, items, *, array=True):
    filter_.extra["help_text"] = description
    schema = {"type": "array", "items": items} if array else dict(items)
    schema["description"] = description
    set_override(filter_, "field", schema)


LIST_NOTE = "Several values: comma-separated or repeated; a row matches any of them."


class SlugListFilter(django_filters.Filter):
    """Rows related (through ``field_name``) to any of the given slugs of ``model``.

    Unknown slugs are a 400 listing the accepted ones. ``queryset`` (callable taking the request, or a
    queryset) limits which rows count as known, e.g. configurations the user may see.

    Programmes (projects/membership.py): only rows of the programmes the user may see are known (a
    private programme's slugs are neither accepted nor listed). A programme's own terms (contexts,
    mechanisms...: slugs unique within a programme, cmo_kb/vocabulary.py ProgrammeTerm) are looked up
    within the programmes of ``?programme=`` when it is given (``?context=leadership&programme=b`` is
    b's leadership); without it, a slug two visible programmes share matches the terms of both.
    """

    field_class = ListField

    def __init__(self, model, *, noun=None, slug_field="slug", queryset=None, list_url=None, **kwargs):
        # (not self.model: FilterSet.__init__ sets that to the filtered model on every filter)
        self.vocabulary = model
        self.noun = noun or model._meta.verbose_name
        self.slug_field = slug_field
        self.queryset = queryset
        super().__init__(**kwargs)
        where = f" (see {list_url})" if list_url else ""
        _schema(self, kwargs.pop("help_text", None) or f"Slug of a {self.noun}{where}. {LIST_NOTE}", {"type": "string"})

    @property
    def owned_terms(self):
        """Whether the vocabulary is a programme's own (slugs unique within a programme only)."""
        return owned_terms(self.vocabulary, self.slug_field)

    def programmes_given(self):
        """The slugs of ?programme= (already checked by its own filter), or []."""
        parent = getattr(self, "parent", None)
        form = getattr(parent, "form", None) if parent is not None else None
        data = getattr(form, "cleaned_data", None) or {}
        return list(data.get("programme") or []) if parent is not None and "programme" in parent.filters else []

    def known_queryset(self, request=None):
        """The rows whose slugs this filter accepts for ``request`` (default: the filterset's)."""
        if request is None:
            request = getattr(getattr(self, "parent", None), "request", None)
        qs = self.queryset
        if callable(qs):
            qs = qs(request)
        if qs is None:
            qs = self.vocabulary._default_manager.all()
        from projects.membership import scope

        qs = scope(qs, getattr(request, "user", None))
        given = self.programmes_given() if self.owned_terms else []
        return qs.filter(programme__slug__in=given) if given else qs

    def filter(self, qs, value):
        if not value:
            return qs
        self.validate(value)
        return self.apply(qs, value)

    def validate(self, value):
        known = self.known_queryset()
        found = set(known.filter(**{f"{self.slug_field}__in": value}).values_list(self.slug_field, flat=True))
        missing = [v for v in value if v not in found]
        if missing:
            accepted = known.order_by(self.slug_field).values_list(self.slug_field, flat=True).distinct()
            given = self.programmes_given() if self.owned_terms else []
            where = f" in the programme{'s' if len(given) > 1 else ''} {', '.join(given)}" if given else ""
            raise exceptions.ValidationError(
                {
                    self.field_name_param: [
                        f"Unknown {self.noun} {', '.join(repr(m) for m in missing)}{where}. Accepted: {_accepts(accepted)}."
                    ]
                }
            )

    @property
    def field_name_param(self):
        return self.parent_param or self.field_name

    parent_param = None

    def terms(self, value):
        """The known rows with these slugs, as a subquery of primary keys."""
        return self.known_queryset().filter(**{f"{self.slug_field}__in": value}).values("pk")

    def apply(self, qs, value):
        if self.owned_terms:
            # By primary key among the known terms: a slug is the term of the programmes in play.
            related = qs.model._default_manager.filter(**{f"{self.field_name}__in": self.terms(value)})
        else:
            related = qs.model._default_manager.filter(**{f"{self.field_name}__{self.slug_field}__in": value})
        return qs.filter(pk__in=related.values("pk"))


def owned_terms(model, slug_field="slug"):
    """Whether ``model`` is a programme's own vocabulary: rows with a programme whose slugs are unique
    within it only (a team's, a source's or a configuration's slug is unique everywhere)."""
    from django.core.exceptions import FieldDoesNotExist

    if getattr(model, "programme_path", None) != "programme":
        return False
    try:
        return not model._meta.get_field(slug_field).unique
    except FieldDoesNotExist:
        return False


class ChoiceListFilter(django_filters.Filter):
    """Rows whose ``field_name`` is any of the given choices."""

    field_class = ListField

    def __init__(self, choices, **kwargs):
        self.choice_values = [str(value) for value, _ in choices]
        self.choice_labels = dict((str(v), str(label)) for v, label in choices)
        param_help = kwargs.pop("help_text", "")
        super().__init__(**kwargs)
        choice_text = "; ".join(f"`{v}`: {self.choice_labels[v]}" for v in self.choice_values)
        _schema(self, f"{param_help} One of: {choice_text}. {LIST_NOTE}".strip(), {"type": "string", "enum": self.choice_values})

    def filter(self, qs, value):
        if not value:
            return qs
        bad = [v for v in value if v not in self.choice_values]
        if bad:
            raise exceptions.ValidationError(
                {self.parent_param or self.field_name: [
                    f"{', '.join(repr(b) for b in bad)} is not a valid choice. Accepted: {', '.join(self.choice_values)}."
                ]}
            )
        return qs.filter(**{f"{self.field_name}__in": value})

    parent_param = None


MAX_WHOLE_NUMBER = 2**63 - 1


def _whole_number(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise forms.ValidationError(f"{value!r} is not a whole number. Accepted: whole numbers such as 1 or 1,2,3.")
    if number < 0:
        raise forms.ValidationError(f"{value!r} is negative. Accepted: whole numbers of 0 or more.")
    if number > MAX_WHOLE_NUMBER:
        # Past a 64-bit integer the database driver overflows (a 500) rather than matching nothing.
        raise forms.ValidationError(f"{value!r} is too large. Accepted: whole numbers up to {MAX_WHOLE_NUMBER}.")
    return number


class IntegerListFilter(django_filters.Filter):
    """Rows whose ``field_name`` is any of the given whole numbers."""

    def __init__(self, **kwargs):
        description = kwargs.pop("help_text", "Whole numbers.")
        super().__init__(**kwargs)
        self.extra["parse"] = _whole_number
        # The bound the parser enforces (_whole_number), so a schema-valid id is never refused.
        _schema(self, f"{description} {LIST_NOTE}",
                {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_WHOLE_NUMBER})

    field_class = ListField

    def filter(self, qs, value):
        return qs.filter(**{f"{self.field_name}__in": value}) if value else qs


class WholeNumberField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        return _whole_number(value)


class WholeNumberFilter(django_filters.Filter):
    """One whole number (0 or more): a threshold, for a ``method`` to apply; anything else is a 400."""

    field_class = WholeNumberField

    def __init__(self, **kwargs):
        description = kwargs.pop("help_text", "")
        super().__init__(**kwargs)
        _schema(self, f"{description} A whole number, 0 or more.".strip(),
                {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_WHOLE_NUMBER}, array=False)


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _boolean(value):
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise forms.ValidationError(f"{value!r} is not a boolean. Accepted: true or false (also 1/0, yes/no).")


class StrictBooleanField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        return _boolean(value)


class StrictBooleanFilter(django_filters.Filter):
    """true/false; anything else is a 400 (django-filter's own BooleanFilter ignores bad values)."""

    field_class = StrictBooleanField

    def __init__(self, **kwargs):
        description = kwargs.pop("help_text", "")
        super().__init__(**kwargs)
        _schema(self, f"{description} true or false (also 1/0, yes/no).".strip(), {"type": "boolean"}, array=False)


MAX_UTC_OFFSET = timedelta(hours=14)  # the world's offsets run from -12:00 to +14:00


class DateTimeField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is None:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise forms.ValidationError(
                    f"{value!r} is not a date or date-time. Accepted: ISO 8601, e.g. 2014-06-01 or 2014-06-01T12:00:00Z."
                ) from None
        from datetime import timezone as tz

        from django.utils import timezone

        offset = parsed.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise forms.ValidationError(
                f"{value!r} has no real UTC offset. Accepted: an offset from -14:00 to +14:00, or Z."
            )
        try:
            if parsed.tzinfo is None:
                parsed = timezone.make_aware(parsed)
            # Sent to the database in UTC: PostgreSQL refuses offsets beyond ±15:59 ("time zone
            # displacement out of range"), and a moment outside years 1-9999 in UTC overflows here.
            parsed = parsed.astimezone(tz.utc)
        except (OverflowError, ValueError):
            raise forms.ValidationError(
                f"{value!r} is out of range. Accepted: a date-time between 0001-01-02 and 9999-12-30 (UTC)."
            ) from None
        return parsed


class DateTimeFilter(django_filters.Filter):
    field_class = DateTimeField

    def __init__(self, **kwargs):
        description = kwargs.pop("help_text", "")
        super().__init__(**kwargs)
        _schema(self, f"{description} ISO 8601 date or date-time.".strip(), {"type": "string", "format": "date-time"}, array=False)


class TextListFilter(django_filters.Filter):
    """Rows whose ``field_name`` contains any of the given strings (case-insensitive)."""

    field_class = ListField

    def __init__(self, **kwargs):
        description = kwargs.pop("help_text", "")
        super().__init__(**kwargs)
        _schema(self, f"{description} Case-insensitive substring. {LIST_NOTE}".strip(), {"type": "string"})

    def filter(self, qs, value):
        if not value:
            return qs
        from django.db.models import Q

        condition = Q()
        for text in value:
            condition |= Q(**{f"{self.field_name}__icontains": text})
        return qs.filter(condition)


class SearchParamFilter(django_filters.Filter):
    """Full-text search (evidence/search.py); results come best first, each with rank and snippet."""

    field_class = forms.CharField

    def __init__(self, search, **kwargs):
        self.search = search
        super().__init__(**kwargs)
        _schema(
            self,
            "Full-text search: stemmed English words, all required, whole words only; \"quoted phrase\", "
            "`a OR b`, `-word` to exclude; results ranked best first with a highlighted `snippet` "
            "(HTML: escaped text with <mark> around matches). On PostgreSQL a query matching more "
            "than 2,000 rows ranks 2,000 of them (see the README). On SQLite: FTS5, ranked by weighted match counts.",
            {"type": "string"},
            array=False,
        )

    def filter(self, qs, value):
        if not value or not value.strip():
            return qs
        from evidence.search import SearchQueryError

        try:
            return self.search(qs, value)
        except SearchQueryError as exc:
            raise exceptions.ValidationError({self.parent_param or self.field_name: [str(exc)]}) from None

    parent_param = None


class ProgrammeListFilter(SlugListFilter):
    """``?programme=``: rows of any of the given programmes (those the user may see)."""

    def __init__(self, field_name):
        from projects.models import Programme

        super().__init__(Programme, field_name=field_name, list_url="/api/programmes/", queryset=_visible_programmes,
                         help_text=f"Slug of a programme (see /api/programmes/): its rows only. {LIST_NOTE}")

    def apply(self, qs, value):
        lookup = "slug__in" if self.field_name == "pk" else f"{self.field_name}__slug__in"
        return qs.filter(**{lookup: value})


def _visible_programmes(request):
    from projects.membership import visible_programmes

    return visible_programmes(getattr(request, "user", None))


class KBFilterSet(django_filters.FilterSet):
    """Gives each filter its parameter name for error messages, and the request to querysets. A
    programme's rows take ``?programme=`` (projects/membership.py programme_path)."""

    @classmethod
    def get_filters(cls):
        filters = super().get_filters()
        model = cls._meta.model
        path = getattr(model, "programme_path", None) if model is not None else None
        if path and "programme" not in filters:
            filters["programme"] = ProgrammeListFilter(field_name="pk" if path == "pk" else path)
        if "programme" in filters:
            # First: the other filters look a programme's own terms up within it (SlugListFilter).
            filters.move_to_end("programme", last=False)
        return filters

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, filter_ in self.filters.items():
            filter_.parent_param = name

    @property
    def search_active(self):
        return bool(self.form.cleaned_data.get("search")) if hasattr(self.form, "cleaned_data") else False


# --- Filter backend: every query parameter is known ---------------------------------------------

COMMON_PARAMS = {"format", "page_size", "cursor", "page", "view"}


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, plus a 400 for parameters nobody reads (a typo would otherwise give every row)."""

    _bound = {}

    def get_filterset_class(self, view, queryset=None):
        """A filterset written for any model (VocabularyFilterSet) gets the view's model, so a
        programme's terms take ?programme= too."""
        filterset_class = super().get_filterset_class(view, queryset)
        if (filterset_class is not None and filterset_class._meta.model is None and queryset is not None
                and issubclass(filterset_class, KBFilterSet) and getattr(queryset.model, "programme_path", None)):
            key = (filterset_class, queryset.model)
            if key not in self._bound:
                meta = type("Meta", (), {"model": queryset.model, "fields": []})
                self._bound[key] = type(filterset_class.__name__, (filterset_class,), {"Meta": meta})
            filterset_class = self._bound[key]
        return filterset_class

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        allowed = set(COMMON_PARAMS) | set(getattr(view, "extra_query_params", ()))
        if filterset is not None:
            allowed |= set(filterset.filters)
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise exceptions.ValidationError(
                {name: [f"Unknown query parameter. Accepted: {', '.join(sorted(allowed))}."] for name in unknown}
            )
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise exceptions.ValidationError({k: list(v) for k, v in filterset.errors.items()})
        view.filterset = filterset
        return filterset.qs


class VocabularyFilterSet(KBFilterSet):
    name = TextListFilter(field_name="name", help_text="Part of the name.")
