"""Load the Closing the Gap knowledge base from the curator-readable YAML under fixtures/ctg/.

A workflow that writes many models at once (hence a module of its own, behind the thin
`load_ctg` command). It runs in three steps:

1. read every fixtures/ctg/**/*.yaml file and gather its entries by section;
2. validate everything before writing anything: unknown sections and keys, missing required
   fields, bad choices, duplicate slugs across files, references to slugs no fixture defines,
   excerpts whose text is not exactly the source text between their offsets;
3. apply the entries in dependency order inside one transaction, comparing each with the
   database and with what the loader last applied (projects.SeedRecord):
   - absent from the database: create it;
   - equal to the fixture: unchanged;
   - the database still holds what the loader last applied, the fixture changed: update it;
   - otherwise a curator changed it: report a conflict (model, slug, fields) and leave it,
     unless `overwrite` is set.

Every write goes through the models (so EvidenceExcerpt.save() re-checks the verbatim rule and
other apps' signals fire) and is recorded by django-simple-history with the change reason
"load_ctg". The loader never deletes a row that a fixture no longer mentions; nested lists
(a team's quality domains, a configuration's evidence links...) are part of their parent's
value and are synced with it.

Modules, one per job: schema (the sections and their fields), reading (YAML files and source texts,
only inside the fixtures directory), validation (Fixtures: every check before any write), applying
(Loader and load()).
"""

from .applying import Conflict, Counts, Loader, Result, load
from .schema import CHANGE_REASON, SECTIONS, SeedError
from .validation import Fixtures, fingerprint

__all__ = ["CHANGE_REASON", "SECTIONS", "Conflict", "Counts", "Fixtures", "Loader", "Result", "SeedError", "fingerprint", "load"]
