"""Our .qdpx as another program reads it: pyrefiqda (typed models generated from the REFI-QDA
schemas), counted the way qde_compare.summary counts our own reading."""

from pathlib import Path


def read_with_pyrefiqda(payload, folder):
    """Counts of what pyrefiqda finds in a .qdpx (bytes), unpacked into `folder`, and its project."""
    from pyrefiqda.refiproject import RefiProject

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "export.qdpx"
    path.write_bytes(payload)
    project = RefiProject.load(path, extract_dir=str(folder / "unpacked"))

    def walk(codes):
        for code in codes:
            yield code
            yield from walk(code.code)

    codes = list(walk(project.code_book.codes.code)) if project.code_book else []
    sources = project.sources.text_source if project.sources else []
    selections = [selection for source in sources for selection in source.plain_text_selection]
    texts = {}
    for source in sources:
        file = RefiProject.resolve_source_path(source.plain_text_path, folder / "unpacked")
        texts[source.guid] = file.read_text(encoding="utf-8")
    counts = {
        "codes": len(codes),
        "sources": len(sources),
        "selections": len(selections),
        "codings": sum(len(selection.coding) for selection in selections),
        "cases": len(project.cases.case) if project.cases else 0,
        "notes": len(project.notes.note) if project.notes else 0,
        "links": len(project.links.link) if project.links else 0,
    }
    return counts, project, texts
