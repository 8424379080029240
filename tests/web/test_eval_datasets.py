"""A BEIR data set uploaded as a zip on the new-run page, through the real app: a good one is offered
at once; a bad one is refused with a message saying why, and nothing of it is kept (path traversal,
a zip bomb, judgments pointing nowhere, duplicate ids, a missing file, a name taken); an employee and
a forged form are refused before anything is unpacked."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from app.accounts.directory import add_user
from tests.eval.conftest import write_tiny_beir
from tests.web.conftest import PASSWORD, csrf_of, login


@pytest.fixture(scope="module", autouse=True)
def evaluator(web_services):
    with web_services.session() as session:
        add_user(session, "dana", role="evaluator", groups=["everyone"], password=PASSWORD)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory) -> dict[str, bytes]:
    folder = write_tiny_beir(tmp_path_factory.mktemp("beir") / "tiny")
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def upload(client, name: str, data: bytes, csrf: str | None = None):
    fields = {"name": name} if csrf is None else {"csrf": csrf, "name": name}
    return client.post("/eval/datasets", data=fields, files={"file": ("set.zip", data, "application/zip")})


def datasets_dir(web_services) -> Path:
    return web_services.settings.data_dir / "datasets"


def leftovers(web_services) -> list[str]:
    work = web_services.settings.data_dir / "eval-uploads"
    return [p.name for p in work.iterdir()] if work.exists() else []


def test_a_good_zip_becomes_a_data_set_offered_for_a_run(client, web_services, tiny_files):
    login(client, "dana")
    csrf = csrf_of(client.get("/eval/new").text)
    r = upload(client, "uploaded-tiny", zip_of({f"scifact-mini/{k}": v for k, v in tiny_files.items()}), csrf)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert 'data-uploaded="uploaded-tiny"' in page and 'value="uploaded-tiny"' in page
    folder = datasets_dir(web_services) / "uploaded-tiny"
    assert (folder / "qrels" / "test.tsv").read_bytes() == tiny_files["qrels/test.tsv"]
    assert leftovers(web_services) == []

    again = upload(client, "uploaded-tiny", zip_of(tiny_files), csrf)
    assert again.status_code == 409 and "already exists" in again.text


BAD = {
    "traversal": (lambda f: {**f, "../../escaped.txt": b"x"}, "climbs out of its folder"),
    "absolute": (lambda f: {**f, "/tmp/evil.txt": b"x"}, "is an absolute path"),
    "bomb": (lambda f: {**f, "zeros.bin": b"\0" * (6 * 1024 * 1024)}, "zip bomb"),
    "nowhere": (lambda f: {**f, "qrels/test.tsv": f["qrels/test.tsv"] + b"q1\tno-such-doc\t1\n"},
                "document &#39;no-such-doc&#39; is not in corpus.jsonl"),
    "unknown-query": (lambda f: {**f, "qrels/test.tsv": f["qrels/test.tsv"] + b"q-404\t" +
                                 f["qrels/test.tsv"].split(b"\n")[1].split(b"\t")[1] + b"\t1\n"},
                      "query &#39;q-404&#39; is not in queries.jsonl"),
    "duplicate": (lambda f: {**f, "corpus.jsonl": f["corpus.jsonl"] + f["corpus.jsonl"].split(b"\n")[0] + b"\n"},
                  "appears twice"),
    "missing": (lambda f: {k: v for k, v in f.items() if k != "qrels/test.tsv"}, "missing qrels/test.tsv"),
    "not-json": (lambda f: {**f, "queries.jsonl": b"{not json\n"}, "queries.jsonl line 1: not JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_zip_is_refused_with_its_reason_and_nothing_kept(client, web_services, tiny_files, case):
    make, reason = BAD[case]
    login(client, "dana")
    csrf = csrf_of(client.get("/eval/new").text)
    before = sorted(p.name for p in datasets_dir(web_services).iterdir()) if datasets_dir(web_services).exists() else []
    r = upload(client, f"bad-{case}", zip_of(make(dict(tiny_files))), csrf)
    assert r.status_code == 400, r.text[:500]
    assert "data-upload-error" in r.text and "The data set was refused" in r.text and reason in r.text, r.text[-3000:]
    assert not (datasets_dir(web_services) / f"bad-{case}").exists()
    assert sorted(p.name for p in datasets_dir(web_services).iterdir()) == before
    assert leftovers(web_services) == []
    assert not (web_services.settings.data_dir / "escaped.txt").exists()
    assert not (web_services.settings.data_dir.parent / "escaped.txt").exists()


def test_not_a_zip_and_a_bad_name_are_refused(client, tiny_files):
    login(client, "dana")
    csrf = csrf_of(client.get("/eval/new").text)
    r = upload(client, "plain", b"corpus.jsonl, honestly", csrf)
    assert r.status_code == 400 and "not a readable zip" in r.text
    for name in ("../up", "Has Space", "", "x" * 80):
        r = upload(client, name, zip_of(tiny_files), csrf)
        assert r.status_code == 400 and "the name is 1 to 64" in r.text, name


def test_an_employee_or_a_forged_form_cannot_upload(client, web_services, tiny_files):
    login(client, "sofie")
    csrf = csrf_of(client.get("/").text)
    assert upload(client, "by-sofie", zip_of(tiny_files), csrf).status_code == 403
    login(client, "dana")
    assert upload(client, "no-csrf", zip_of(tiny_files)).status_code == 403
    assert upload(client, "forged", zip_of(tiny_files), "forged").status_code == 403
    for name in ("by-sofie", "no-csrf", "forged"):
        assert not (datasets_dir(web_services) / name).exists()
