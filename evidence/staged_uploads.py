"""An upload waiting between its dry-run preview and the user's confirmation, for the workbench's
document upload (evidence/admin_views.py; the confirmed import then runs as an ImportRun). The CMO
spreadsheet import keeps its file with its dry run instead (evidence/import_runs.py).

The file waits in a folder outside MEDIA_ROOT (UPLOAD_STAGING_DIR, default a folder of the server's
temporary directory), named by a random token that only the uploading user's session holds, so only
they can confirm it. Confirming takes it out (read and deleted); a preview nobody confirms is deleted
after MAX_AGE, when a later preview stages another file. Several servers behind one address need
UPLOAD_STAGING_DIR on a folder they share.
"""

import secrets
import tempfile
import time
from pathlib import Path

from django.conf import settings

MAX_AGE = 24 * 3600  # seconds a preview's file waits for its confirmation


def staging_dir():
    folder = Path(getattr(settings, "UPLOAD_STAGING_DIR", None) or Path(tempfile.gettempdir()) / "cmo-kb-uploads")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _forget_old(folder):
    limit = time.time() - MAX_AGE
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:  # another worker removed it first
            pass


def stage(request, kind, data, name, fields):
    """Keep ``data`` (bytes) for this session under a new token; ``kind`` names the import (its
    session key), ``fields`` what the confirmation needs besides the file. Returns the token."""
    folder = staging_dir()
    _forget_old(folder)
    token = secrets.token_urlsafe(24)
    (folder / token).write_bytes(data)
    staged = request.session.get(kind, {})
    staged[token] = {"name": name, **fields}
    request.session[kind] = staged
    return token


def unstage(request, kind, token):
    """The staged upload of ``token`` in this session as (entry: name and fields, bytes), taken out
    of the staging folder; None if this session staged no such upload or it is gone."""
    staged = request.session.get(kind, {})
    entry = staged.pop(token, None) if isinstance(token, str) else None
    request.session[kind] = staged
    if entry is None:
        return None
    path = staging_dir() / token
    try:
        data = path.read_bytes()
        path.unlink()
    except OSError:
        return None
    return entry, data
