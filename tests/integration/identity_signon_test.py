"""Campus sign-on end to end (issue 8): a real labgate-server signs people in against a real slapd
(tools/ldap_dir) and against tools/cas_server, which speaks the CAS protocol (serviceValidate XML).
A user first seen through LDAP or CAS is created from the directory's attributes; wrong passwords
are throttled (429 with Retry-After); a CAS ticket opens one session only; an ended session's token
is refused."""
import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from harness import SRC, TOKEN, Mosquitto, Server, wait_until

USERS = {
    "zhang.wei": {"password": "zw-ldap-pass-1",
                  "attributes": {"cn": "张伟", "mail": "zhang.wei@example.edu", "ou": "chem",
                                 "employeeType": "student"}},
    "li.na": {"password": "ln-cas-pass-1",
              "attributes": {"cn": "李娜", "mail": "li.na@example.edu", "ou": "phys", "employeeType": "staff"}},
}
SERVICE = "https://labgate.example.edu/login/cas"


def tool(*args):
    out = subprocess.run([sys.executable, str(SRC / "tools" / args[0]), *args[1:]], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, f"tools/{' '.join(args)}: {out.stdout}{out.stderr}"
    return out.stdout


def cas_ticket(cas_url, user, password):
    """Signs in at the CAS server as a browser would (scripted form fields); the ticket it redirects with."""
    q = urllib.parse.urlencode({"service": SERVICE, "user": user, "password": password})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(f"{cas_url}/login?{q}", timeout=10)
    except urllib.error.HTTPError as e:
        assert e.code == 302, e.code
        location = e.headers["Location"]
        return urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["ticket"][0]
    raise AssertionError("the CAS server did not redirect with a ticket")


def main():
    with tempfile.TemporaryDirectory(prefix="labgate-signon-") as tmp:
        d = Path(tmp)
        users_file = d / "users.json"
        users_file.write_text(json.dumps(USERS, ensure_ascii=False), encoding="utf-8")
        procs = []
        cas = None
        try:
            ldap_url = tool("ldap_dir", "start", "--dir", str(d / "ldap"), "--users", str(users_file)).strip().splitlines()[-1]
            info = json.loads((d / "ldap" / "info.json").read_text())
            port_file = d / "cas.port"
            cas = subprocess.Popen([sys.executable, str(SRC / "tools" / "cas_server"), "--users", str(users_file),
                                    "--port-file", str(port_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cas_port = wait_until(lambda: port_file.exists() and port_file.read_text().strip(), 20, what="the CAS server")
            cas_url = f"http://127.0.0.1:{cas_port}"
            broker = Mosquitto(d).start()
            procs.append(broker)
            server = Server(d, broker.uri, extra_toml=f"""
[auth]
password_t_cost = 1
password_m_cost_kib = 1024
[auth.ldap]
url = "{ldap_url}"
base_dn = "{info['people_dn']}"
bind_dn = "{info['bind_dn']}"
bind_password = "{info['bind_password']}"
[auth.cas]
url = "{cas_url}"
services = ["{SERVICE}"]
""").start()
            procs.append(server)
            server.post("/api/units", {"id": "chem", "name": "化学院"})
            server.post("/api/units", {"id": "phys", "name": "物理系"})

            # LDAP: bound as the user; first seen, so created from the directory's attributes.
            status, out = server.request("POST", "/api/login",
                                         {"user": "zhang.wei", "password": "zw-ldap-pass-1", "method": "ldap"}, token=None)
            assert status == 201, (status, out)
            token = out["token"]
            status, me = server.request("GET", "/api/me", token=token)
            assert status == 200 and me["user"] == "zhang.wei" and me["name"] == "张伟", me
            users = {u["id"]: u for u in server.get("/api/users?limit=100")}
            assert users["zhang.wei"]["unit"] == "chem", users["zhang.wei"]
            assert users["zhang.wei"]["category"] == "internal_student", users["zhang.wei"]
            # A wrong LDAP password is a 401 like any other; five lock the account (429 + Retry-After).
            for _ in range(5):
                status, out = server.request("POST", "/api/login",
                                             {"user": "zhang.wei", "password": "wrong-pass", "method": "ldap"}, token=None)
                assert status == 401 and out["error"] == "wrong user or password", (status, out)
            status, out = server.request("POST", "/api/login",
                                         {"user": "zhang.wei", "password": "zw-ldap-pass-1", "method": "ldap"}, token=None)
            assert status == 429, (status, out)
            # A user the directory does not know is told the same as a wrong password.
            status, out = server.request("POST", "/api/login",
                                         {"user": "nobody", "password": "whatever-1", "method": "ldap"}, token=None)
            assert status == 401 and out["error"] == "wrong user or password", (status, out)

            # CAS: the browser brings a service ticket; the server validates it with the CAS server.
            ticket = cas_ticket(cas_url, "li.na", "ln-cas-pass-1")
            status, out = server.request("POST", "/api/login/cas", {"ticket": ticket, "service": SERVICE}, token=None)
            assert status == 201, (status, out)
            cas_token = out["token"]
            status, me = server.request("GET", "/api/me", token=cas_token)
            assert status == 200 and me["user"] == "li.na" and me["name"] == "李娜", me
            status, out = server.request("POST", "/api/login/cas", {"ticket": ticket, "service": SERVICE}, token=None)
            assert status == 401 and "INVALID_TICKET" in out["error"], (status, out)
            other = cas_ticket(cas_url, "li.na", "ln-cas-pass-1")
            status, out = server.request("POST", "/api/login/cas", {"ticket": other, "service": "https://evil.example/"},
                                         token=None)
            assert status == 422, (status, out)

            # Sign-out ends the session: its token is refused, and says why.
            status, _ = server.request("POST", "/api/logout", token=cas_token)
            assert status == 200
            status, out = server.request("GET", "/api/me", token=cas_token)
            assert status == 401 and out["error"] == "token revoked", (status, out)
            print("PASS identity_signon (LDAP against slapd, CAS against tools/cas_server)", flush=True)
        finally:
            for p in reversed(procs):
                p.stop()
            if cas:
                cas.terminate()
                cas.wait(timeout=10)
            subprocess.run([sys.executable, str(SRC / "tools" / "ldap_dir"), "stop", "--dir", str(d / "ldap")],
                           capture_output=True, timeout=60)


if __name__ == "__main__":
    main()
