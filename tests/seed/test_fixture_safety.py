"""The loader reads only inside its fixtures directory, and an empty file, an empty or missing
source text or a YAML key written twice is an error naming where, not a silent gap."""

import io
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evidence.models import Source
from projects.seed.reading import DuplicateKeyError, read_yaml

pytestmark = pytest.mark.django_db

SOURCE_FIELD = "fixtures/ctg/vocabulary.yaml › sources › ctg-evaluation-2014 › text_file"
TEXT_FILE_LINE = "text_file: sources/ctg-evaluation-2014.txt"


def refused(fixtures_copy):
    with pytest.raises(CommandError) as caught:
        call_command("load_ctg", stdout=io.StringIO())
    assert not Source.objects.exists(), "a refused load writes nothing"
    message = str(caught.value)
    assert "nothing was written" in message
    return message


def point_source_at(fixtures_copy, text_file):
    vocabulary = fixtures_copy / "ctg" / "vocabulary.yaml"
    text = vocabulary.read_text(encoding="utf-8")
    assert TEXT_FILE_LINE in text
    vocabulary.write_text(text.replace(TEXT_FILE_LINE, f"text_file: {text_file}"), encoding="utf-8")


@pytest.fixture
def server_file(tmp_path):
    """A file outside the fixtures directory (tmp_path/fixtures), standing in for /etc/hostname."""
    path = tmp_path / "server-secret.txt"
    path.write_text("db-password=hunter2\n", encoding="utf-8")
    return path


def test_a_relative_path_climbing_out_is_refused(fixtures_copy, server_file):
    point_source_at(fixtures_copy, "../server-secret.txt")
    message = refused(fixtures_copy)
    assert (
        f"{SOURCE_FIELD}: '../server-secret.txt' resolves to {server_file}, outside the fixtures directory "
        f"{fixtures_copy.resolve()}; only files inside it are read."
    ) in message
    assert "hunter2" not in message


def test_the_reported_etc_hostname_path_is_refused(fixtures_copy):
    point_source_at(fixtures_copy, "../../../etc/hostname")
    message = refused(fixtures_copy)
    assert f"{SOURCE_FIELD}: '../../../etc/hostname' resolves to" in message
    assert "outside the fixtures directory" in message


def test_an_absolute_path_is_refused(fixtures_copy, server_file):
    point_source_at(fixtures_copy, str(server_file))
    assert f"{SOURCE_FIELD}: '{server_file}' resolves to {server_file}, outside the fixtures directory" in refused(fixtures_copy)


def test_a_symlink_inside_pointing_out_is_refused(fixtures_copy, server_file):
    os.symlink(server_file, fixtures_copy / "sources" / "innocent.txt")
    point_source_at(fixtures_copy, "sources/innocent.txt")
    assert f"{SOURCE_FIELD}: 'sources/innocent.txt' resolves to {server_file}, outside" in refused(fixtures_copy)


def test_a_path_with_dots_that_stays_inside_is_read(fixtures_copy):
    point_source_at(fixtures_copy, "ctg/../sources/ctg-evaluation-2014.txt")
    call_command("load_ctg", stdout=io.StringIO())
    assert Source.objects.get().full_text.startswith("\n\nClosing the Gap")


def test_a_symlinked_fixture_file_pointing_out_is_refused(fixtures_copy, tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("source_kinds:\n  - slug: other\n    name: Other\n", encoding="utf-8")
    os.symlink(outside, fixtures_copy / "ctg" / "zz-linked.yaml")
    assert f"fixtures/ctg/zz-linked.yaml: resolves to {outside}, outside the fixtures directory" in refused(fixtures_copy)


def test_a_missing_source_text_is_refused(fixtures_copy):
    point_source_at(fixtures_copy, "sources/no-such-file.txt")
    assert f"{SOURCE_FIELD}: cannot read 'sources/no-such-file.txt' as UTF-8: [Errno 2] No such file or directory" in refused(fixtures_copy)


def test_an_empty_source_text_is_refused(fixtures_copy):
    (fixtures_copy / "sources" / "ctg-evaluation-2014.txt").write_text("\n  \n", encoding="utf-8")
    assert f"{SOURCE_FIELD}: 'sources/ctg-evaluation-2014.txt' is empty: a source needs its full text." in refused(fixtures_copy)


@pytest.mark.parametrize("content", ["", "# only a comment\n", "{}\n"])
def test_an_empty_fixture_file_is_refused(fixtures_copy, content):
    (fixtures_copy / "ctg" / "corpus" / "camhs.yaml").write_text(content, encoding="utf-8")
    message = refused(fixtures_copy)
    assert "fixtures/ctg/corpus/camhs.yaml: the file is empty; it must hold at least one section (or be removed)." in message


def test_a_duplicate_key_is_refused_naming_the_key_and_line(fixtures_copy):
    (fixtures_copy / "ctg" / "zz-broken.yaml").write_text(
        "source_kinds:\n"
        "  - slug: test-kind\n"
        "    name: First name\n"
        "    name: Second name\n",
        encoding="utf-8",
    )
    message = refused(fixtures_copy)
    assert (
        "fixtures/ctg/zz-broken.yaml: line 4: the key 'name' is written twice in one mapping (first at line 3); "
        "YAML would keep only the last value. Remove or rename one."
    ) in message


def test_a_duplicate_section_is_refused(fixtures_copy):
    (fixtures_copy / "ctg" / "zz-broken.yaml").write_text(
        "source_kinds:\n  - {slug: a, name: A}\nsource_kinds:\n  - {slug: b, name: B}\n", encoding="utf-8"
    )
    assert "fixtures/ctg/zz-broken.yaml: line 3: the key 'source_kinds' is written twice" in refused(fixtures_copy)


def test_read_yaml_keeps_merges_and_refuses_duplicates():
    assert read_yaml("base: &b {a: 1, b: 2}\nitem:\n  <<: *b\n  b: 3\n") == {"base": {"a": 1, "b": 2}, "item": {"a": 1, "b": 3}}
    with pytest.raises(DuplicateKeyError) as caught:
        read_yaml("outer:\n  inner: {x: 1, x: 2}\n")
    assert (caught.value.key, caught.value.line, caught.value.first_line) == ("x", 2, 2)
