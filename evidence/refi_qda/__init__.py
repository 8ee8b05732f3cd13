"""REFI-QDA export: the knowledge base as a QDA-XML 1.0 project (.qdpx) or codebook (.qdc).

NVivo, ATLAS.ti, MAXQDA, QualCoder and the other REFI members import these files. The schemas are
vendored in evidence/refi_qda_schemas/ (the tests validate every export against them).

Two steps:
- ``load_export_data(include_drafts)`` reads everything but the evidence rows in a fixed number of
  queries (EXPORT_QUERIES, whatever the data size) into an ``ExportData`` snapshot (with the
  programmes' Code rows and the memos' code and source references);
- ``build_codebook_xml`` turns a snapshot into the .qdc without touching the database;
  ``iter_project_qdpx`` writes the .qdpx as a stream of bytes from the snapshot and ``StreamedRows``
  (excerpts, evidence links, codings, memos, relations and source texts read through ``.iterator()``,
  STREAM_QUERIES more queries, whatever the data size), so memory stays bounded at a million
  excerpts (the memos' and relations' GUIDs are held while notes and links are written). ``iter_qdpx``
  does both steps; ``export_qdpx`` joins its chunks (small knowledge bases, tests).

How the knowledge base maps onto QDA-XML
-----------------------------------------
Codebook (the same tree in the project and in the .qdc; group codes are not codable):

    Enabling mechanisms
      <mechanism>                       codable
        <theme>                         codable
          <configuration>               one code per exported CMO configuration with this theme
        <configuration>                 ... with this mechanism and no theme
    Configurations without a mechanism  (only drafts can lack one; only with include_drafts)
    Wish dimensions > <dimension> > <pole>
    Quality domains > <domain>
    Outcome kinds > <kind> > <outcome>
    Contexts > <category> > <context>
    CMO parts > Context / Mechanism / Outcome
    Speaker roles > <role>
    Excerpt kinds > Participant quote / Evaluator finding / Figure / Quotation from the literature

A configuration's code sits under its theme (or mechanism), so a tool's "aggregate child codes"
gives all the evidence for a theme or a mechanism. Its description summarises the configuration
(statement, teams, contexts, activity, effect, outcomes, Wish shifts, quality domains, pathways,
status); draft and in-review ones (evaluator exports with include_drafts only) carry "[draft]" /
"[in review]" in their name. Enablers are coloured green, barriers red.

Project (.qdpx = ZIP of project.qde + sources/<guid>.txt):
- Users: the curators who created or last changed an exported row.
- Sources: one TextSource per source, its text in sources/<guid>.txt (UTF-8, no BOM) referenced
  as internal://<guid>.txt; one PlainTextSelection per evidence excerpt with the excerpt's
  character offsets (0-based code points, end exclusive: QDA-XML's convention and ours). Each
  selection is coded with the codes of the exported configurations it is linked to, the CMO parts
  those links speak to, its speaker role and its excerpt kind.
- Cases: one per team, with a SelectionRef to each of its excerpts.
- Notes: each configuration's statement (NoteRef from its code), and evidence-link notes.
- Links: one per evidence link, from the selection to the configuration's code, named by stance
  and part ("supports (mechanism)"), since a coding cannot say whether evidence supports or
  challenges.
- Sets: the configuration codes per team, per Wish pole they shift toward, per quality domain,
  enablers/barriers and triggered/disabled (QDA-XML sets hold codes, not selections).
- Variables: on sources (kind, date, authors, publisher, programme) and cases (short name,
  organisation, programme). QDA-XML has no variables on selections, hence the excerpt-kind codes.

A programme's own coding (evidence/codes.py: what a REFI-QDA import brings, or codes made here):
- Code rows join the codebook, each GUID once; a Code row wins over a derived code with its GUID (name,
  description, colour, codability, parent, place): codebook.merge_code_rows says why and how.
- Coding rows are codings of their excerpt's selection (GUID, creatingUser = the coder, creationDateTime),
  after the derived ones; a derived coding whose code a Coding row of the selection has is left out.
- Memos are Notes, with a NoteRef from each of their codes, selections and sources; Relations are
  Links. A memo or relation with the GUID of a derived note or link replaces it.
- Sources, excerpts and teams imported from a project keep its GUIDs (qda_guid): the TextSource and
  its sources/<guid>.txt, the selection (and every SelectionRef, link end), the case. Two sources or
  teams exported together with the same qda_guid: the first keeps it, the other takes its derived
  GUID. (Excerpts are streamed, so two excerpts of different programmes with the same qda_guid are
  not told apart: export such programmes separately.)
- Users: also the coders of exported codings and the authors of memos and relations.

Every GUID is a uuid5 over the object's natural key (slug, username, choice value; for a programme's
own terms, whose slugs are unique within the programme only, the programme's slug and the term's), so
exporting unchanged data twice gives byte-identical files, and a re-import matches objects up.

Programmes: an export holds the programmes given (the API: those the reader may see, or
?programme=; the command: --programme, or all), their own vocabularies, teams, sources, excerpts and
configurations, and the shared frameworks. The project's name and description say which; with
several programmes, the codes of a programme's own terms carry its short name.


The package, by job: schema.py (namespaces, GUIDs, XML helpers), data.py (the snapshot and its
queries), codebook.py (codes and sets), project.py (project.qde), archive.py (the .qdpx and .qdc
files). Everything is importable from ``evidence.refi_qda`` as before.

The other way, a project or codebook from any REFI tool (our own export included) into a programme:
reader.py reads it, evidence/refi_qda_import.py writes it; the mapping above is the one it reads back.
"""

from evidence.refi_qda.schema import (  # noqa: F401
    BARRIER_COLOR,
    CODEBOOK_NS,
    ENABLER_COLOR,
    GUID_NAMESPACE,
    ORIGIN,
    PROJECT_NS,
    VARIABLES,
    ZIP_TIMESTAMP,
    configuration_code_guid,
    guid,
    selection_guid,
    source_file_name,
    source_guid,
    statement_note_guid,
    term_code_guid,
)
from evidence.refi_qda.data import (  # noqa: F401
    CODEBOOK_QUERIES,
    EXPORT_QUERIES,
    STREAM_QUERIES,
    ExportData,
    StreamedRows,
    load_export_data,
)
from evidence.refi_qda.codebook import (  # noqa: F401
    Code,
    build_codebook_xml,
    build_codes,
    build_sets,
)
from evidence.refi_qda.project import (  # noqa: F401
    iter_project_xml,
)
from evidence.refi_qda.archive import (  # noqa: F401
    export_codebook,
    export_qdpx,
    iter_project_qdpx,
    iter_qdpx,
)
