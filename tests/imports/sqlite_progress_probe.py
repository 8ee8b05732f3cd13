"""Run by tests/imports/test_import_runs.py (python this.py DB MEDIA PROGRESS): on a SQLite *file* database, the run's status and progress are readable from another
connection while the import holds the write transaction."""
import io, os, sys, threading, time
os.environ["DJANGO_SETTINGS_MODULE"] = "cmo_kb.settings"
os.environ["DATABASE_URL"] = "sqlite:///" + sys.argv[1]; os.environ["MEDIA_ROOT"] = sys.argv[2]; os.environ["IMPORT_PROGRESS_DIR"] = sys.argv[3]
sys.path.insert(0, os.getcwd())
import django; django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from evidence.import_report import ImportReport, run_import
from evidence.import_runs import IMPORTERS, ImportRun, register
from mechanisms.models import Context
from projects.models import Programme
p, _ = Programme.objects.get_or_create(slug="chk", defaults={"name": "Check"})
Context.objects.get_or_create(programme=p, slug="c1", defaults={"name": "One"})
half, finish = threading.Event(), threading.Event()
def slow(file, programme, user=None, dry_run=False):
    r = ImportReport(file.name, dry_run=dry_run)
    def write(r):
        c = Context.objects.get(slug="c1"); c.name = "Renamed " + str(time.time()); c.save()
        r.progress(1, 2, "halfway"); half.set(); finish.wait(20); r.progress(2, 2)
    return run_import(write, r)
import __main__; __main__.slow = slow
register("chk", "chk", (".chk",), "__main__.slow")
run = ImportRun(programme=p, kind="chk", file_name="a.chk"); run.file.save("a.chk", io.BytesIO(b"x"), save=False); run.save()
t = threading.Thread(target=lambda: (run.execute(), connection.close())); t.start()
half.wait(20)

print("while running:", {k: v for k, v in ImportRun.objects.get(pk=run.pk).status_dict().items() if k in ("status", "done", "total", "label")})
finish.set(); t.join()
print("after:", {k: v for k, v in ImportRun.objects.get(pk=run.pk).status_dict().items() if k in ("status", "done", "total")})
