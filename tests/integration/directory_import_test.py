"""labgatectl import --csv against the real server (issue 8): CSV from HR and student systems in
UTF-8 with a BOM and in GBK, a dry run that changes nothing, an import, the same files again
changing nothing, and a bad row that names its file and line and changes nothing."""
import subprocess

from harness import BIN, TOKEN, run


def ctl(campus, *args):
    return subprocess.run([str(BIN / "labgatectl"), "--url", campus.server.url, "--token", TOKEN, *args],
                          capture_output=True, text=True, timeout=120)


def test_csv_import_gbk_dry_run_idempotent_bad_row(campus):
    d = campus.dir
    (d / "units.csv").write_bytes("\ufeffid,name,parent\nchem,化学学院,\nchem-ana,分析化学系,chem\n".encode("utf-8"))
    (d / "users.csv").write_bytes("id,name,category,unit\ns2026001,张伟,internal,chem-ana\n"
                                  "s2026002,李娜,external,\n".encode("gbk"))
    (d / "cards.csv").write_text("uid,user\nc0de2001,s2026001\nC0DE2002,s2026002\n")
    files = ["--csv", str(d / "units.csv"), "--csv", str(d / "users.csv"), "--csv", f"cards={d / 'cards.csv'}"]

    r = ctl(campus, "import", *files, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "would import users: 2 created, 0 updated, 0 unchanged" in r.stdout, r.stdout
    assert campus.server.get("/api/users") == []

    r = ctl(campus, "import", *files)
    assert r.returncode == 0, r.stderr
    assert "imported cards: 2 created" in r.stdout, r.stdout
    users = {u["id"]: u for u in campus.server.get("/api/users")}
    assert users["s2026001"]["name"] == "张伟" and users["s2026001"]["unit"] == "chem-ana", users  # GBK read right
    assert users["s2026002"]["name"] == "李娜", users
    assert {c["uid"] for c in campus.server.get("/api/cards")} == {"C0DE2001", "C0DE2002"}

    r = ctl(campus, "import", *files)
    assert r.returncode == 0, r.stderr
    assert "imported users: 0 created, 0 updated, 2 unchanged" in r.stdout, r.stdout

    (d / "users2.csv").write_text("id,name,category,unit\ns2026003,Zhao,internal,\ns2026004,Qian,teacher,\n")
    r = ctl(campus, "import", "--csv", f"users={d / 'users2.csv'}")
    assert r.returncode == 1, r.stdout
    assert "users2.csv line 3: category must be internal_student, internal_staff, other_campus, external_academic or enterprise" in r.stderr, r.stderr
    assert len(campus.server.get("/api/users")) == 2  # s2026003 on line 2 was not kept either


if __name__ == "__main__":
    run([test_csv_import_gbk_dry_run_idempotent_bad_row])
