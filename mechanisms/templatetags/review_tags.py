"""The workbench's start page panel: the user's drafts, those returned to them, the review queue."""

from django import template

from mechanisms import review

register = template.Library()


@register.inclusion_tag("admin/mechanisms/includes/own_work.html", takes_context=True)
def own_work(context):
    request = context.get("request")
    return {"work": review.own_work(getattr(request, "user", None))}
