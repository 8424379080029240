"""`make run` ends with how to log in to the sample data: a random demo password, never a shipped one."""

from __future__ import annotations

import json
import os
import stat

from starlette.testclient import TestClient

from tests.app.test_cli import inhouse


def test_import_manifest_gives_the_sample_users_a_private_random_password_to_log_in_with(tmp_path, models_dir):
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "note.md").write_text("# Parking\n\nVisitors park on level 2 of the garage.\n")
    (root / "manifest.json").write_text(json.dumps({
        "groups": ["everyone"],
        "users": [{"name": "sofie", "groups": ["everyone"]}, {"name": "ivar", "groups": ["everyone"], "role": "admin"}],
        "documents": [{"path": "note.md", "groups": ["everyone"]}],
    }))
    env = {**os.environ, "INHOUSE_DATA_DIR": str(tmp_path / "data"), "INHOUSE_MODELS_DIR": str(models_dir)}
    first = inhouse(env, "import-manifest", str(root / "manifest.json"), "--demo-logins")
    assert first.returncode == 0, first.stderr
    assert "Log in at http://127.0.0.1:8000 as any of sofie, ivar with the password" in first.stdout
    password = (tmp_path / "data" / "demo-password.txt").read_text().strip()
    assert len(password) >= 12 and password in first.stdout
    assert stat.S_IMODE((tmp_path / "data" / "demo-password.txt").stat().st_mode) == 0o600
    again = inhouse(env, "import-manifest", str(root / "manifest.json"), "--demo-logins", "--json")
    assert json.loads(again.stdout)["demo_password"] == password  # the same password the second time

    from app.settings import Settings
    from web.app import create_app

    with TestClient(create_app(Settings(data_dir=tmp_path / "data", models_dir=models_dir)),
                    follow_redirects=False) as client:
        assert client.post("/login", data={"name": "sofie", "password": password}).status_code == 303
        assert client.post("/login", data={"name": "ivar", "password": "guess"}).status_code == 401
