from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load the Closing the Gap knowledge base from fixtures/ (work in progress: loads nothing yet)."

    def handle(self, *args, **options):
        self.stdout.write("load_ctg: the fixtures are not written yet; nothing loaded.")
