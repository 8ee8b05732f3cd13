"""Demo accounts for a local try-out only: admin, lead, evaluator, analyst. Each role account is a
member of the Closing the Gap programme (`ctg`) in that role, when it is loaded."""

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cmo_kb.vocabulary import ANALYST_GROUP, EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP
from projects.models import Programme, ProgrammeMembership

ROLE_OF_GROUP = {LEAD_EVALUATOR_GROUP: "lead", EVALUATOR_GROUP: "evaluator", ANALYST_GROUP: "analyst"}

# username -> (group or None for a superuser, is_staff)
DEMO_ACCOUNTS = {
    "admin": (None, True),
    "lead": (LEAD_EVALUATOR_GROUP, True),
    "evaluator": (EVALUATOR_GROUP, True),
    "analyst": (ANALYST_GROUP, False),
}


class Command(BaseCommand):
    help = "Create (or reset) one demo account per role. For a local try-out only."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=None,
            help="Password for every demo account (default: $DEMO_PASSWORD, or 'demo').",
        )

    @transaction.atomic
    def handle(self, *args, password=None, **options):
        password = password or os.environ.get("DEMO_PASSWORD") or "demo"
        User = get_user_model()
        missing = [
            name for name in {g for g, _ in DEMO_ACCOUNTS.values() if g} if not Group.objects.filter(name=name).exists()
        ]
        if missing:
            raise CommandError(f"Role groups missing: {', '.join(sorted(missing))}. Run 'python manage.py migrate' first.")
        ctg = Programme.objects.filter(slug="ctg").first()
        for username, (group_name, is_staff) in DEMO_ACCOUNTS.items():
            user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
            user.is_staff = is_staff
            user.is_superuser = group_name is None
            user.set_password(password)
            user.save()
            where = ""
            if group_name:
                user.groups.set([Group.objects.get(name=group_name)])
                if ctg is not None:
                    ProgrammeMembership.objects.update_or_create(
                        programme=ctg, user=user, defaults={"role": ROLE_OF_GROUP[group_name]})
                    where = f", {ROLE_OF_GROUP[group_name]} in {ctg.slug}"
            self.stdout.write(f"{'created' if created else 'updated'} {username} ({group_name or 'superuser'}{where})")
        self.stdout.write(self.style.SUCCESS(f"{len(DEMO_ACCOUNTS)} demo accounts ready; local try-out only."))
