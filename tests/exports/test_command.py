"""python manage.py export_refi_qda --output PATH [--codebook-only] [--include-drafts]"""

import io
import os
import zipfile

import pytest
from django.core.management import CommandError, call_command

from evidence import refi_qda
from evidence.management.commands.export_refi_qda import Command


def run(*args):
    out = io.StringIO()
    call_command("export_refi_qda", *args, stdout=out)
    return out.getvalue()


def test_writes_a_project(kb, tmp_path, open_qdpx, project_schema):
    path = tmp_path / "kb.qdpx"
    out = run("--output", str(path))
    payload = path.read_bytes()
    assert out == f"Wrote REFI-QDA project (published configurations only) to {path}: {len(payload):,} bytes.\n"
    assert payload == refi_qda.export_qdpx()
    project_schema.validate(io.BytesIO(open_qdpx(payload).qde))
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert os.listdir(tmp_path) == ["kb.qdpx"]  # no temporary file left behind


def test_writes_a_codebook_with_drafts(kb, tmp_path, codebook_schema):
    path = tmp_path / "kb.qdc"
    out = run("--output", str(path), "--codebook-only", "--include-drafts")
    assert out.startswith(f"Wrote REFI-QDA codebook (with drafts) to {path}: ")
    codebook_schema.validate(str(path))
    assert path.read_bytes() == refi_qda.export_codebook(include_drafts=True)
    assert b"Pathway targets [draft]" in path.read_bytes()


def test_overwrites_an_existing_file_and_is_repeatable(kb, tmp_path):
    path = tmp_path / "kb.qdpx"
    path.write_bytes(b"old")
    run("--output", str(path))
    first = path.read_bytes()
    run("--output", str(path))
    assert path.read_bytes() == first
    assert zipfile.ZipFile(path).namelist()[0] == "project.qde"


def test_missing_folder_is_a_clear_error(kb, tmp_path):
    target = tmp_path / "nowhere" / "kb.qdpx"
    with pytest.raises(CommandError, match=rf"^Cannot write {target}: the folder {tmp_path / 'nowhere'} does not exist\.$"):
        run("--output", str(target))


def test_directory_as_output_is_a_clear_error(kb, tmp_path):
    with pytest.raises(CommandError, match=r"it is a directory; give a file name\.$"):
        run("--output", str(tmp_path))


def test_file_as_folder_is_a_clear_error(kb, tmp_path):
    (tmp_path / "plain.txt").write_text("x")
    with pytest.raises(CommandError, match=r"plain\.txt is not a folder\.$"):
        run("--output", str(tmp_path / "plain.txt" / "kb.qdpx"))


def test_a_failed_write_leaves_nothing_behind(kb, tmp_path, monkeypatch):
    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(CommandError, match=r"^Cannot write .*kb\.qdpx: No space left on device\.$"):
        run("--output", str(tmp_path / "kb.qdpx"))
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_folder_is_a_clear_error(kb, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(CommandError, match=r"^Cannot write .*kb\.qdpx: Permission denied\.$"):
            run("--output", str(folder / "kb.qdpx"))
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o755)


def test_unwritable_path_exits_non_zero_with_the_message_on_stderr(kb, tmp_path, capsys):
    # As from the shell: run_from_argv turns the CommandError into exit status 1 and a message.
    target = tmp_path / "missing" / "kb.qdpx"
    with pytest.raises(SystemExit) as exit_info:
        Command().run_from_argv(["manage.py", "export_refi_qda", "--output", str(target)])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == f"CommandError: Cannot write {target}: the folder {target.parent} does not exist.\n"
    assert not target.parent.exists()


def test_output_is_required(db, capsys):
    with pytest.raises(SystemExit) as exit_info:
        Command().run_from_argv(["manage.py", "export_refi_qda"])
    assert exit_info.value.code == 2
    assert "the following arguments are required: --output" in capsys.readouterr().err


def test_permission_denied_is_a_clear_error_even_for_root(kb, tmp_path, monkeypatch):
    # (root ignores folder permissions, so the refusal is simulated where the command creates its file)
    import tempfile

    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(CommandError, match=rf"^Cannot write {tmp_path / 'kb.qdpx'}: Permission denied\.$"):
        run("--output", str(tmp_path / "kb.qdpx"))
    assert os.listdir(tmp_path) == []
