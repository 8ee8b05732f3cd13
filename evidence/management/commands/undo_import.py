"""manage.py undo_import RUN_ID [--user USERNAME]: reverse an import run as one step
(evidence/import_runs.ImportRun.undo): the rows it created are deleted, the rows it updated restored,
in one transaction; refused, with nothing changed, when a row was changed after the import."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from evidence.import_runs import ImportRun, UndoRefused


class Command(BaseCommand):
    help = "Undo an import run (its number is on its page, /admin/evidence/importrun/, and in GET /api/imports/)."

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int)
        parser.add_argument("--user", help="Undo as this user (recorded in history); default: the run's own user.")

    def handle(self, run_id, user=None, **options):
        run = ImportRun.objects.select_related("programme", "user").filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"There is no import run #{run_id}.")
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"There is no user '{user}'.")
        else:
            actor = run.user
        if actor is None:
            raise CommandError(f"Import #{run_id} was run by the operator: name a lead of '{run.programme.slug}' with --user.")
        try:
            run.undo(actor)
        except UndoRefused as refused:
            lines = [refused.message, *(f"  {row}" for row in refused.rows)]
            raise CommandError("\n".join(lines)) from refused
        self.stdout.write(f"Import #{run.pk} ({run.file_name}) undone as {actor.get_username()}.")
