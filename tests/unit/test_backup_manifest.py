"""A backup's manifest.json as earlier versions wrote it is read, restored and listed as before."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ispa_acmewrap import report, transaction
from ispa_acmewrap.paths import Paths
from ispa_acmewrap.transaction import EntryKind


def test_a_manifest_written_before_restores_files_links_and_absences(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    site, link, made_since = tmp_path / "site.conf", tmp_path / "enabled.conf", tmp_path / "temp.conf"
    directory = paths.backups_dir / "20260301-120000"
    directory.mkdir(parents=True)
    (directory / "00-site.conf").write_text("as it was\n")
    info = os.stat(tmp_path)
    (directory / transaction.MANIFEST).write_text(json.dumps({
        "id": "20260301-120000", "created": "2026-03-01T12:00:00+00:00", "reason": "install certificates",
        "entries": [
            {"path": str(site), "kind": "file", "stored": "00-site.conf", "link": None, "mode": 0o640,
             "uid": info.st_uid, "gid": info.st_gid},
            {"path": str(link), "kind": "link", "stored": None, "link": "site.conf", "mode": None, "uid": None,
             "gid": None},
            {"path": str(made_since), "kind": "absent", "stored": None, "link": None, "mode": None, "uid": None,
             "gid": None}]}))
    site.write_text("changed\n")
    made_since.write_text("made by the change\n")

    backup = transaction.list_backups(paths)[0]
    assert [entry.kind for entry in backup.entries] == [EntryKind.FILE, EntryKind.LINK, EntryKind.ABSENT]
    transaction.restore_files(backup)
    assert site.read_text() == "as it was\n" and site.stat().st_mode & 0o777 == 0o640
    assert link.is_symlink() and os.readlink(link) == "site.conf"
    assert not made_since.exists()
    assert report.backups_table([backup]).splitlines()[-1].endswith("install certificates  site.conf, enabled.conf")


def test_a_new_manifest_keeps_the_same_words(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    kept = tmp_path / "kept.conf"
    kept.write_text("x\n")
    backup = transaction.create_backup(paths, "test", files=[kept, tmp_path / "missing.conf"])
    manifest = json.loads((backup.directory / transaction.MANIFEST).read_text())
    assert [entry["kind"] for entry in manifest["entries"]] == ["file", "absent"]
