"""REFI-QDA projects written by hand, as the tools write them (DOMAIN.md, "REFI-QDA exports as real
tools write them"), for tests/imports/test_refi_qda_import.py.

``QdaProject(style)`` collects users, codes, sources, selections, cases, notes, links, sets and
variables, and writes them as project.qde (``qde()``) inside a .qdpx (``qdpx()``) or as a .qdc
(``qdc()``). ``style`` says how GUIDs look: "lower" (NVivo), "upper" (MAXQDA), "braces" (ATLAS.ti:
upper case in braces). A source's text goes where its ``where`` says: "internal" (plainTextPath
internal://<guid>.txt, MAXQDA and our own export), "relative" (sources/<name>.txt next to a .docx
copy, NVivo), "Sources" (the same under Sources/), "inline" (<PlainTextContent>), "docx" (only a
richTextPath .docx), "bare" (plainTextPath is the file name only, the file under sources/).
"""

import io
import uuid
import zipfile
from xml.etree import ElementTree as ET

NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"


def docx_bytes(paragraphs):
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


class QdaProject:
    def __init__(self, style="lower", name="Test project", origin="Hand-written", seed="refi-test"):
        self.style, self.name, self.origin, self.seed = style, name, origin, seed
        self.counter = 0
        self.users, self.codes, self.sources, self.cases = [], [], [], []
        self.notes, self.links, self.sets, self.variables = [], [], [], []
        self.other_sources = []
        self.extra_files = {}
        self.project_notes = []

    # --- GUIDs

    def new_guid(self):
        """A GUID as the style writes it, and its normalised form."""
        self.counter += 1
        value = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.seed}:{self.counter}"))
        return self.styled(value)

    def styled(self, value):
        if self.style == "upper":
            return value.upper()
        if self.style == "braces":
            return "{" + value.upper() + "}"
        return value

    # --- content

    def user(self, name, id=None):
        guid = self.new_guid()
        self.users.append({"guid": guid, "name": name, **({"id": id} if id else {})})
        return guid

    def code(self, name, parent=None, codable=True, color=None, description=None, guid=None):
        guid = guid or self.new_guid()
        self.codes.append({"guid": guid, "name": name, "parent": parent, "codable": codable, "color": color,
                           "description": description, "notes": []})
        return guid

    def source(self, name, text, where="internal", bom=False, variables=(), guid=None, docx_copy=True):
        guid = guid or self.new_guid()
        self.sources.append({"guid": guid, "name": name, "text": text, "where": where, "bom": bom,
                             "selections": [], "variables": list(variables), "notes": [], "docx_copy": docx_copy})
        return guid

    def selection(self, source, start, end, codes=(), user=None, created="2024-05-06T07:08:09Z", name=None, guid=None,
                  coding_users=None, description=None):
        guid = guid or self.new_guid()
        entry = next(s for s in self.sources if s["guid"] == source)
        entry["selections"].append({"guid": guid, "start": start, "end": end, "codes": list(codes), "user": user,
                                    "created": created, "name": name, "notes": [], "coding_users": coding_users,
                                    "description": description})
        return guid

    def case(self, name, selections=(), variables=(), description=None):
        guid = self.new_guid()
        self.cases.append({"guid": guid, "name": name, "selections": list(selections), "variables": list(variables),
                           "description": description})
        return guid

    def variable(self, name, type="Text"):
        guid = self.new_guid()
        self.variables.append({"guid": guid, "name": name, "type": type})
        return guid

    def note(self, name, text, on=()):
        """A note, with a NoteRef to it from each code, source or selection GUID in ``on``."""
        guid = self.new_guid()
        self.notes.append({"guid": guid, "name": name, "text": text})
        for target in on:
            for holder in [*self.codes, *self.sources, *(s for source in self.sources for s in source["selections"])]:
                if holder["guid"] == target:
                    holder["notes"].append(guid)
        return guid

    def link(self, origin, target, name="", direction="OneWay", color=None):
        guid = self.new_guid()
        self.links.append({"guid": guid, "origin": origin, "target": target, "name": name, "direction": direction,
                           "color": color})
        return guid

    def set(self, name, codes=()):
        guid = self.new_guid()
        self.sets.append({"guid": guid, "name": name, "codes": list(codes)})
        return guid

    def picture(self, name):
        self.other_sources.append(("PictureSource", self.new_guid(), name))

    # --- files

    def _text_path(self, source):
        guid = source["guid"].strip("{}").lower() if self.style == "braces" else source["guid"]
        where = source["where"]
        if where == "internal":
            return f"internal://{guid}.txt", f"sources/{guid}.txt"
        if where == "relative":
            return f"sources/{source['name']}.txt", f"sources/{source['name']}.txt"
        if where == "Sources":
            return f"Sources/{source['name']}.txt", f"Sources/{source['name']}.txt"
        if where == "bare":
            return f"{source['name']}.txt", f"sources/{source['name']}.txt"
        return None, None

    def qde(self, codebook_only=False):
        ET.register_namespace("", NS)
        root = ET.Element(f"{{{NS}}}Project", {"name": self.name, "origin": self.origin})

        def sub(parent, tag, attrs=None, text=None):
            element = ET.SubElement(parent, f"{{{NS}}}{tag}", {k: str(v) for k, v in (attrs or {}).items() if v is not None})
            if text is not None:
                element.text = text
            return element

        if self.users:
            users = sub(root, "Users")
            for user in self.users:
                sub(users, "User", user)
        if self.codes:
            codes = sub(sub(root, "CodeBook"), "Codes")
            elements = {}
            for code in self.codes:
                parent = elements[code["parent"]] if code["parent"] else codes
                element = sub(parent, "Code", {"guid": code["guid"], "name": code["name"],
                                               "isCodable": "true" if code["codable"] else "false", "color": code["color"]})
                if code["description"]:
                    sub(element, "Description", text=code["description"])
                for note in code["notes"]:
                    sub(element, "NoteRef", {"targetGUID": note})
                elements[code["guid"]] = element
        if self.variables:
            variables = sub(root, "Variables")
            for variable in self.variables:
                sub(variables, "Variable", {"guid": variable["guid"], "name": variable["name"],
                                            "typeOfVariable": variable["type"]})
        if self.cases:
            cases = sub(root, "Cases")
            for case in self.cases:
                element = sub(cases, "Case", {"guid": case["guid"], "name": case["name"]})
                if case["description"]:
                    sub(element, "Description", text=case["description"])
                self._values(sub, element, case["variables"])
                for selection in case["selections"]:
                    sub(element, "SelectionRef", {"targetGUID": selection})
        if (self.sources or self.other_sources) and not codebook_only:
            sources = sub(root, "Sources")
            for source in self.sources:
                plain, _ = self._text_path(source)
                attrs = {"guid": source["guid"], "name": source["name"], "plainTextPath": plain}
                if source["where"] == "docx" or (source["where"] == "relative" and source["docx_copy"]):
                    attrs["richTextPath"] = f"sources/{source['name']}.docx"
                element = sub(sources, "TextSource", attrs)
                if source["where"] == "inline":
                    sub(element, "PlainTextContent", text=source["text"])
                for selection in source["selections"]:
                    chosen = sub(element, "PlainTextSelection", {
                        "guid": selection["guid"], "name": selection["name"] or f"Selection {selection['start']}",
                        "startPosition": selection["start"], "endPosition": selection["end"],
                        "creatingUser": selection["user"], "creationDateTime": selection["created"]})
                    if selection["description"]:
                        sub(chosen, "Description", text=selection["description"])
                    for index, code in enumerate(selection["codes"]):
                        coding_user = (selection["coding_users"] or {}).get(code, selection["user"])
                        coding = sub(chosen, "Coding", {"guid": self.new_guid(), "creatingUser": coding_user,
                                                        "creationDateTime": selection["created"]})
                        sub(coding, "CodeRef", {"targetGUID": code})
                    for note in selection["notes"]:
                        sub(chosen, "NoteRef", {"targetGUID": note})
                for note in source["notes"]:
                    sub(element, "NoteRef", {"targetGUID": note})
                self._values(sub, element, source["variables"])
            for kind, guid, name in self.other_sources:
                sub(sources, kind, {"guid": guid, "name": name, "path": f"internal://{name}.png"})
        if self.notes:
            notes = sub(root, "Notes")
            for note in self.notes:
                element = sub(notes, "Note", {"guid": note["guid"], "name": note["name"]})
                sub(element, "PlainTextContent", text=note["text"])
        if self.links:
            links = sub(root, "Links")
            for link in self.links:
                sub(links, "Link", {"guid": link["guid"], "name": link["name"], "direction": link["direction"],
                                    "color": link["color"], "originGUID": link["origin"], "targetGUID": link["target"]})
        if self.sets:
            sets = sub(root, "Sets")
            for entry in self.sets:
                element = sub(sets, "Set", {"guid": entry["guid"], "name": entry["name"]})
                for code in entry["codes"]:
                    sub(element, "MemberCode", {"targetGUID": code})
        ET.indent(root)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)

    @staticmethod
    def _values(sub, element, values):
        for variable, value, kind in ((v[0], v[1], v[2] if len(v) > 2 else "Text") for v in values):
            holder = sub(element, "VariableValue")
            sub(holder, "VariableRef", {"targetGUID": variable})
            sub(holder, f"{kind}Value", text=value)

    def qdpx(self, codebook_only=False, qde=None):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("project.qde", qde if qde is not None else self.qde(codebook_only=codebook_only))
            if not codebook_only:
                for source in self.sources:
                    data = (("\ufeff" if source["bom"] else "") + source["text"]).encode("utf-8")
                    _, stored = self._text_path(source)
                    if stored:
                        archive.writestr(stored, data)
                    if source["where"] == "docx" or (source["where"] == "relative" and source["docx_copy"]):
                        archive.writestr(f"sources/{source['name']}.docx", docx_bytes(source["text"].split("\n\n")))
            for path, data in self.extra_files.items():
                archive.writestr(path, data)
        return buffer.getvalue()

    def qdc(self):
        ET.register_namespace("", CODEBOOK_NS)
        root = ET.Element(f"{{{CODEBOOK_NS}}}CodeBook", {"origin": self.origin})
        codes = ET.SubElement(root, f"{{{CODEBOOK_NS}}}Codes")
        elements = {}
        for code in self.codes:
            parent = elements[code["parent"]] if code["parent"] else codes
            attrs = {"guid": code["guid"], "name": code["name"], "isCodable": "true" if code["codable"] else "false"}
            if code["color"]:
                attrs["color"] = code["color"]
            element = ET.SubElement(parent, f"{{{CODEBOOK_NS}}}Code", attrs)
            if code["description"]:
                ET.SubElement(element, f"{{{CODEBOOK_NS}}}Description").text = code["description"]
            elements[code["guid"]] = element
        if self.sets:
            sets = ET.SubElement(root, f"{{{CODEBOOK_NS}}}Sets")
            for entry in self.sets:
                element = ET.SubElement(sets, f"{{{CODEBOOK_NS}}}Set", {"guid": entry["guid"], "name": entry["name"]})
                for code in entry["codes"]:
                    ET.SubElement(element, f"{{{CODEBOOK_NS}}}MemberCode", {"guid": code})
        ET.indent(root)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")
