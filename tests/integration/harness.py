"""Real-process test harness: a Mosquitto broker on a free port, the Modbus simulator,
labgate-server on a SQLite file (or on PostgreSQL) and labgate-terminal processes, all under one
temp dir.

The server's store: SQLite (<data_dir>/labgate.db) unless the environment says
LABGATE_TEST_STORE=postgres; then each server gets a [store] table with the conninfo of the
cluster in $LABGATE_TEST_PG_DIR (tools/pg_cluster, the ctest fixture "pg") and a schema of its
own, one per data dir (store_for). docs/TESTING.md.

Used by the integration tests (ctest label "integration"), by tools/demo and tools/bench.
Only the Python standard library is used.
"""
import glob
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("LABGATE_BIN", SRC / "build" / "bin"))
TOKEN = "test-admin-token"
SITE = "test"
# A card nobody holds: Campus.settle() swipes it as a marker (denied, unknown_card) and
# wait_cache_expired() as a probe. Tests that count access events leave it out (not_marker).
MARKER_CARD = "0BADCAFE"
# "sqlite" (the default) or "postgres": the store every Server of this process uses by default
STORE = os.environ.get("LABGATE_TEST_STORE", "sqlite")


# The site CA behind each TLS broker this process started (port -> pki dir), and the server
# identities used on it so far: a second server on a campus's broker gets the next free identity
# ("server.b", ...), since each identity is one connection at the broker.
TLS_PKI = {}
TLS_IDENTITIES = {}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=20.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value; raises with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # keep polling through transient errors
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def not_marker(events):
    """The access events without Campus.settle()'s / wait_cache_expired()'s marker swipes."""
    return [e for e in events if e.get("card") != MARKER_CARD]


def wait_cache_expired(t, timeout=60.0):
    """Returns once terminal `t` (offline) decides from cached lists older than its offline grace:
    swipes MARKER_CARD until the reply says so. A fail-closed output answers cache_expired; a
    fail-open one grants with fail_open, which starts a session the caller ends with
    t.swipe(MARKER_CARD). Before that each probe is a harmless denial (unknown_card)."""
    def expired():
        r = t.swipe(MARKER_CARD)
        return r if r["reason"] in ("cache_expired", "fail_open") else None
    return wait_until(expired, timeout, interval=0.25, what=f"{t.id} to find its cached lists expired")


def wait_port(port, timeout=10.0):
    def up():
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait_until(up, timeout, what=f"port {port}")


def pg_tool(name):
    """A PostgreSQL client program from the newest /usr/lib/postgresql/<version>/bin (as tools/pg_cluster),
    else from PATH."""
    def version(d):
        return tuple(int(x) for x in Path(d).parent.name.split(".") if x.isdigit())
    dirs = sorted((d for d in glob.glob("/usr/lib/postgresql/*/bin") if (Path(d) / name).exists()), key=version)
    exe = str(Path(dirs[-1]) / name) if dirs else shutil.which(name)
    if not exe:
        raise RuntimeError(f"no {name} (PostgreSQL client); run tools/setup")
    return exe


class PgStore:
    """A PostgreSQL store for labgate-server: a libpq conninfo and, optionally, the schema its tables
    live in (the server creates it when missing). toml() is the server's [store] table."""

    def __init__(self, conninfo, schema=None):
        self.conninfo, self.schema = conninfo, schema

    def toml(self):
        out = f'[store]\nkind = "postgres"\nconninfo = {json.dumps(self.conninfo)}\n'
        if self.schema:
            out += f"schema = {json.dumps(self.schema)}\n"
        return out

    def describe(self):
        return f"PostgreSQL {self.conninfo}" + (f" schema {self.schema}" if self.schema else "")

    def sql(self, statement):
        """Runs SQL through psql (stops at the first error); returns psql's unaligned output."""
        out = subprocess.run([pg_tool("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                              "-d", self.conninfo, "-c", statement], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"psql {statement!r}: {out.stderr.strip()}")
        return out.stdout.strip()

    def drop_schema(self):
        if self.schema:
            self.sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def pg_test_dir():
    """The folder of the tests' PostgreSQL cluster (the ctest fixture pg: <build>/pg)."""
    d = os.environ.get("LABGATE_TEST_PG_DIR")
    if not d:
        raise RuntimeError("LABGATE_TEST_STORE=postgres needs LABGATE_TEST_PG_DIR (the folder of "
                           "tools/pg_cluster start --dir D; ctest -L pg sets both)")
    return Path(d)


def pg_test_conninfo():
    path = pg_test_dir() / "conninfo"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise RuntimeError(f"no {path}: is the test cluster running? (tools/pg_cluster start --fast "
                           f"--dir {path.parent}, or run the test through ctest, whose fixture pg starts it)")


_pg_schemas = {}            # resolved server data dir -> PgStore (with its own schema)
_pg_counter = itertools.count(1)


def new_pg_store():
    """A PgStore on the tests' cluster with a fresh, empty schema it_<pid>_<n> of its own."""
    store = PgStore(pg_test_conninfo(), f"it_{os.getpid()}_{next(_pg_counter)}")
    store.drop_schema()  # a schema left by an earlier process with the same pid
    return store


def store_for(data_dir):
    """The default store of a server whose data dir is data_dir: None on SQLite (the server's own
    <data_dir>/labgate.db); on PostgreSQL one schema per data dir, as SQLite has one file per data
    dir: a server started again on the same dir (a restart, or a replacement with other settings)
    finds the same data, a server in another dir starts empty. Several servers in different dirs
    share one database when the test passes the same store to each (Server(..., store=s))."""
    if STORE == "sqlite":
        return None
    if STORE != "postgres":
        raise ValueError(f"LABGATE_TEST_STORE={STORE!r}: expected sqlite or postgres")
    key = str(Path(data_dir).resolve())
    if key not in _pg_schemas:
        _pg_schemas[key] = new_pg_store()
    return _pg_schemas[key]


def drop_pg_schemas(under):
    """Drops the schemas store_for made for data dirs under the folder `under` (a closing campus)."""
    root = Path(under).resolve()
    for key in [k for k in _pg_schemas if Path(k) == root or root in Path(k).parents]:
        store = _pg_schemas.pop(key)
        if store not in _pg_schemas.values():  # another dir may share it
            store.drop_schema()


class Proc:
    """A child process with its stderr in a log file."""

    def __init__(self, name, argv, workdir, env=None):
        self.name, self.argv, self.workdir = name, argv, Path(workdir)
        self.log_path = self.workdir / f"{name}.log"
        self.env = env
        self.p = None

    def start(self, stdout=subprocess.DEVNULL):
        self.log = open(self.log_path, "ab")
        self.p = subprocess.Popen(self.argv, stdout=stdout, stderr=self.log, cwd=self.workdir,
                                  env=self.env, start_new_session=True)
        return self

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if not self.alive():
            return self.p.returncode if self.p else None
        self.p.send_signal(sig)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()

    def kill9(self):
        if self.alive():
            self.p.kill()
            self.p.wait()

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class Mosquitto(Proc):
    """The broker. With conf (the mosquitto.conf labgate-server writes into its [broker] dir, or
    found at <workdir>/broker/mosquitto.conf) it is the real thing: mutual TLS, the site CA, the
    CRL and the per-terminal ACL. Without one it is a plain development broker (anonymous TCP),
    for the tests that drive many simulated terminals over few connections (tools/fleet,
    labgate-bench-ingest) and the server's own development mode (mqtt.allow_plain)."""

    def __init__(self, workdir, port=None, conf=None):
        found = Path(workdir) / "broker" / "mosquitto.conf"
        if conf is None and found.exists():
            conf = found
        self.tls = conf is not None
        if self.tls:
            conf = Path(conf)
            listener = next(l for l in conf.read_text().splitlines() if l.startswith("listener "))
            self.port = int(listener.split()[1])
            if port is not None and port != self.port:
                raise ValueError(f"{conf} listens on {self.port}, not {port}")
            self.broker_dir = conf.parent
        else:
            self.port = port or free_port()
            conf = Path(workdir) / "mosquitto.conf"
            conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                            "log_dest stderr\nmessage_size_limit 1048576\n")
        # Debian puts the broker in /usr/sbin, which a normal user's PATH lacks
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        super().__init__("mosquitto", [exe, "-c", str(conf)], workdir)

    def start(self):
        super().start()
        wait_port(self.port)
        return self

    @property
    def uri(self):
        return f"{'ssl' if self.tls else 'tcp'}://127.0.0.1:{self.port}"


def mint_identity(pki_dir, cn, out_dir):
    """A client certificate for cn from the site CA in pki_dir, made with openssl (as an attacker
    holding another CA, or a tester, would make one): returns (cert, key) paths. Cached per cn."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cert, key = out_dir / f"{cn}.crt", out_dir / f"{cn}.key"
    if cert.exists() and key.exists():
        return cert, key
    ext = out_dir / "client.ext"
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
    csr = out_dir / f"{cn}.csr"
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, timeout=30)
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    run("openssl", "req", "-new", "-key", str(key), "-subj", f"/CN={cn}", "-out", str(csr))
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(Path(pki_dir) / "ca.crt"), "-CAkey",
        str(Path(pki_dir) / "ca.key"), "-set_serial", str(int.from_bytes(os.urandom(8), "big") >> 1), "-days", "30",
        "-extfile", str(ext), "-out", str(cert))
    return cert, key


def make_foreign_ca(out_dir):
    """A CA of nobody's (openssl): (ca.crt, ca.key) for certificates the broker must refuse."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ca, key = out_dir / "ca.crt", out_dir / "ca.key"
    if not ca.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", str(key), "-out", str(ca), "-days", "30", "-subj", "/CN=foreign CA"],
                       check=True, capture_output=True, timeout=30)
    return ca, key


class CaSigner(Proc):
    """labgate-ca: the site CA's key kept off the server (docs/SECURITY.md, "The CA key on a separate
    machine"), in <workdir>/ca as if on a machine of its own. The first construction runs
    `labgate-ca init` (the CA, the signer's TLS identity, the server's client identity in
    ca/for-server); start() serves on a fixed port, so a stopped signer comes back where the
    server's pki.signer_url points."""

    def __init__(self, workdir, site=SITE, server_identities=("server",)):
        self.dir = Path(workdir) / "ca"
        self.config = self.dir / "labgate-ca.toml"
        exe = str(BIN / "labgate-ca")
        if not (self.dir / "ca.key").exists():
            argv = [exe, "init", "--dir", str(self.dir), "--site", site, "--port", str(free_port()),
                    "--host", "127.0.0.1", "--host", "localhost"]
            for i in server_identities:
                argv += ["--server-identity", i]
            out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, f"labgate-ca init failed ({out.returncode}): {out.stdout}{out.stderr}"
            self.init_output = out.stdout
        self.port = int(next(l for l in self.config.read_text().splitlines() if l.startswith("port = ")).split()[2])
        super().__init__("labgate-ca", [exe, "serve", "--config", str(self.config)], workdir)

    def start(self):
        port_file = self.dir / "labgate-ca.port"
        if port_file.exists():
            port_file.unlink()
        super().start()
        got = wait_until(lambda: port_file.exists() or (None if self.alive() else "exited"), 20,
                         what="labgate-ca's port file")
        if got == "exited":
            raise RuntimeError(f"labgate-ca exited ({self.p.returncode}):\n{self.log_text()[-3000:]}")
        wait_port(self.port)
        return self

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def client_files(self):
        """The server's identity towards the signer that init wrote: (ca.crt, cert, key)."""
        d = self.dir / "for-server"
        return d / "ca.crt", d / "signer-client.crt", d / "signer-client.key"

    def pki_toml(self):
        """The [pki] keys of a server whose CA key this signer keeps."""
        ca, cert, key = self.client_files()
        return (f'signer_url = "{self.url}"\nsigner_ca_file = "{ca}"\nsigner_cert_file = "{cert}"\n'
                f'signer_key_file = "{key}"\n')

    def issued(self):
        """The lines of its issue log (issued.log), parsed."""
        path = self.dir / "issued.log"
        return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []


class ModbusSim(Proc):
    def __init__(self, workdir, name="modbus", coils=4, profile="0:1800000", rtu_link=None, extra=()):
        self.state_file = Path(workdir) / f"{name}.state.json"
        self.rtu_link = rtu_link
        argv = [str(BIN / "labgate-modbus-sim"), "--coils", str(coils), "--meter", "sdm120",
                "--profile", profile, "--state-file", str(self.state_file), *extra]
        argv += ["--rtu-pty", str(rtu_link)] if rtu_link else ["--tcp", "0"]
        super().__init__(name, argv, workdir)
        self.port = None

    def start(self):
        if self.port is not None and "--tcp" in self.argv:  # a restart keeps its port
            self.argv[self.argv.index("--tcp") + 1] = str(self.port)
        super().start(stdout=subprocess.PIPE)
        line = self.p.stdout.readline().decode().strip()
        if not line.startswith("ready"):
            raise RuntimeError(f"modbus sim did not start: {line!r}\n{self.log_text()}")
        if line.startswith("ready tcp="):
            self.port = int(line.split("=", 1)[1])
        return self

    def state(self):
        return json.loads(self.state_file.read_text())

    def coil(self, n=0):
        return self.state()["coils"][n]


class Server(Proc):
    def __init__(self, workdir, mqtt_uri, site=SITE, extra_toml="", store=None, pki_dir=None, broker_toml="",
                 identity=None, pki_toml="", http_toml="", server_toml=""):
        """store: a PgStore to use (a test sharing one database between servers passes the same one);
        default store_for(data dir): SQLite, or a schema of this data dir's own on PostgreSQL.
        mqtt_uri ssl://: mutual TLS with the identity `identity` issued by the site CA in pki_dir
        (default <data dir>/pki); broker_toml: a [broker] table when this server writes the broker's
        files. tcp://: the development mode, said in the config (mqtt.allow_plain). pki_toml: more
        keys of the [pki] table (a remote signer: CaSigner.pki_toml()). server_toml: more keys of
        [server] (e.g. sync_refresh_s, how often the server's periodic work runs)."""
        self.dir = Path(workdir) / "server"
        self.dir.mkdir(parents=True, exist_ok=True)
        if mqtt_uri.startswith("ssl://"):
            port = int(mqtt_uri.rsplit(":", 1)[1])
            pki_dir = pki_dir or TLS_PKI.get(port)
            if identity is None:
                used = TLS_IDENTITIES.setdefault(port, [])
                identity = next(i for i in Campus.SERVER_IDENTITIES
                                if i not in ("server.observer", "server.tester") and i not in used)
                used.append(identity)
        self.store = store if store is not None else store_for(self.dir)
        store_toml = "\n" + self.store.toml() if self.store else ""
        self.conf = self.dir / "server.toml"
        self.conf.write_text(f"""[server]
site = "{site}"
data_dir = "{self.dir}"
time_zone = "Asia/Shanghai"
currency = "CNY"
log_level = "info"
{server_toml}
[http]
listen = "127.0.0.1"
port = 0
admin_token = "{TOKEN}"
body_limit = 65536
{http_toml}
[mqtt]
uri = "{mqtt_uri}"
client_id = "labgate-server-{site}-{os.getpid()}"
{'allow_plain = true' if mqtt_uri.startswith('tcp://') else f'identity = "{identity}"'}
{f'{chr(10)}[pki]{chr(10)}dir = "{pki_dir}"{chr(10)}{pki_toml}' if pki_dir else ""}{broker_toml}{store_toml}{extra_toml}""")
        super().__init__("server", [str(BIN / "labgate-server"), "--config", str(self.conf)], self.dir)
        self.port = None

    def write_broker_files(self):
        """Runs labgate-server --write-broker-files: the broker's conf, ACL, CRL and certificates."""
        out = subprocess.run(self.argv + ["--write-broker-files"], capture_output=True, text=True, timeout=60)
        with open(self.log_path, "a") as log:  # the server's log holds this first run too
            log.write(out.stderr)
        assert out.returncode == 0, f"--write-broker-files failed:\n{out.stderr[-3000:]}"

    def start(self):
        port_file = self.dir / "http.port"
        if port_file.exists():
            port_file.unlink()
        super().start()
        got = wait_until(lambda: (port_file.exists() and port_file.read_text().strip()) or (
            None if self.alive() else "exited"), 20, what="server http.port")
        if got == "exited":  # a config or store error: say why instead of timing out on the port
            raise RuntimeError(f"labgate-server exited ({self.p.returncode}) before listening:\n"
                               f"{self.log_text()[-3000:]}")
        self.port = int(got)
        wait_until(lambda: self.request("GET", "/api/health")[0] == 200, 10, what="server health")
        return self

    def database(self):
        """Where this server keeps its data, for people: the SQLite file or the PostgreSQL store."""
        return self.store.describe() if self.store else f"SQLite {self.dir / 'labgate.db'}"

    @property
    def public_key_path(self):
        return self.dir / "server.pub"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, token=TOKEN, raw=None, headers=None):
        """Returns (status, parsed JSON or text)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def get(self, path):
        status, body = self.request("GET", path)
        assert status == 200, f"GET {path} -> {status} {body}"
        return body

    def closed_sessions(self, query=""):
        """Closed usage sessions, each with amount_fen lifted from its charge (None if uncharged)."""
        out = []
        for x in self.get("/api/sessions" + query):
            if x["status"] != "closed":
                continue
            x["amount_fen"] = x["charge"]["amount_fen"] if x.get("charge") else None
            out.append(x)
        return out

    def post(self, path, body):
        status, out = self.request("POST", path, body)
        assert status in (200, 201), f"POST {path} {body} -> {status} {out}"
        return out

    def patch(self, path, body):
        status, out = self.request("PATCH", path, body)
        assert status == 200, f"PATCH {path} {body} -> {status} {out}"
        return out


class Terminal(Proc):
    def __init__(self, workdir, term_id, resource, mqtt_uri, server_pub, relay, site=SITE,
                 output="power", meter=True, extra_toml="", card_device=None):
        """card_device: read cards from this serial device (`[card] source = "serial"`) instead
        of the default Unix card socket; swipe() then does not work (write to the device)."""
        self.id = term_id
        self.card_device = card_device
        self.dir = Path(workdir) / term_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket_path = self.dir / "card.sock"
        self.conf = self.dir / "terminal.toml"
        if "device" in relay:
            link = f'transport = "rtu"\ndevice = "{relay["device"]}"\nbaud = 9600\nparity = "N"'
        else:
            link = f'transport = "tcp"\nhost = "127.0.0.1"\nport = {relay["port"]}'
        meter_toml = f"[meter]\nenabled = true\n{link}\nunit_id = 1\n" if meter else ""
        if card_device:
            card_toml = f'[card]\nsource = "serial"\ndevice = "{card_device}"\nbaud = 9600\n'
        else:
            card_toml = f'[card]\nsource = "socket"\npath = "{self.socket_path}"\n'
        self.conf.write_text(f"""[terminal]
id = "{term_id}"
site = "{site}"
data_dir = "{self.dir}"
board = "{SRC / 'boards' / 'sim-x86' / 'board.toml'}"
resource = "{resource}"
output = "{output}"
server_public_key = "{server_pub}"
heartbeat_s = 1
resend_s = 2
log_level = "info"

[mqtt]
uri = "{mqtt_uri}"
{'allow_plain = true' if mqtt_uri.startswith('tcp://') else ''}

[relay]
{link}
unit_id = 1
timeout_ms = 500

{meter_toml}
{card_toml}
{extra_toml}""")
        super().__init__(term_id, [str(BIN / "labgate-terminal"), "--config", str(self.conf)], self.dir)

    def enrol(self, server_url, token):
        """labgate-terminal enrol: the device's key stays in its data dir; returns the command's output."""
        out = subprocess.run(self.argv + ["enrol", "--server", server_url, "--token", token], capture_output=True,
                             text=True, timeout=60)
        with open(self.log_path, "a") as log:  # the device's log holds its enrolment too
            log.write(out.stderr)
        assert out.returncode == 0, f"enrol failed ({out.returncode}): {out.stdout}{out.stderr}"
        return out.stdout

    def public_key(self):
        out = subprocess.run(self.argv + ["--print-public-key"], capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def start(self):
        if self.card_device:
            opened = self.log_text().count("reading serial card reader")
            super().start()
            wait_until(lambda: self.log_text().count("reading serial card reader") > opened, 20,
                       what=f"{self.id} serial card reader")
            return self
        if self.socket_path.exists():
            self.socket_path.unlink()
        super().start()
        wait_until(lambda: self.socket_path.exists(), 20, what=f"{self.id} card socket")
        return self

    def swipe(self, card, timeout=10):
        """Swipes a card through the terminal's card socket; returns the terminal's JSON reply."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.socket_path))
            s.sendall((card + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf.decode())


class Campus:
    """One broker, one server, helpers to seed a small directory and add terminals."""

    # The broker's ACL lets these identities do what the server does: the server's nodes, and
    # "server.observer" and "server.tester", which tests use to watch (and tamper with) every topic
    # (two, because one identity is one connection at the broker).
    SERVER_IDENTITIES = ["server", "server.observer", "server.tester", "server.b", "server.c", "server.d", "server.e"]

    def __init__(self, name="campus", root=None, site=SITE, store=None, tls=True, remote_ca=False, http_toml="",
                 server_toml="", extra_toml=""):
        """root: keep everything in this folder (the demo); default: a temp dir removed on close.
        store: the server's store (a PgStore); default store_for() its data dir.
        tls: the real set-up (default): the server keeps the site CA in <dir>/pki and writes the
        broker's files into <dir>/broker; the broker requires client certificates; terminals enrol
        with one-time tokens. tls=False: the development mode (plain TCP, anonymous broker), for
        tests whose tools simulate many terminals over few connections.
        remote_ca (with tls): the CA key is kept by labgate-ca in <dir>/ca (self.signer, started
        first) and the server reaches it through [pki] signer_url; <dir>/pki holds no ca.key.
        Tests mint identities as the CA's holder from self.ca_dir. http_toml, server_toml: more keys of
        the server's [http] and [server]; extra_toml: more tables of its configuration."""
        if root is None:
            self.tmp = tempfile.TemporaryDirectory(prefix=f"labgate-{name}-")
            self.dir = Path(self.tmp.name)
        else:
            self.tmp = None
            self.dir = Path(root)
            self.dir.mkdir(parents=True, exist_ok=True)
        self.site = site
        self.procs = []
        self.started = time.time()
        self.tls = tls
        self.pki_dir = self.dir / "pki"
        self.ca_dir = self.pki_dir  # where ca.key is
        self.signer = None
        try:
            if tls and remote_ca:
                self.signer = self.add(CaSigner(self.dir, site, self.SERVER_IDENTITIES)).start()
                self.ca_dir = self.signer.dir
            if tls:
                port = free_port()
                ids = ", ".join(f'"{i}"' for i in self.SERVER_IDENTITIES)
                broker_toml = (f'\n[broker]\ndir = "{self.dir / "broker"}"\nport = {port}\n'
                               f'server_identities = [{ids}]\n')
                TLS_PKI[port] = self.pki_dir
                self.server = self.add(Server(self.dir, f"ssl://127.0.0.1:{port}", site=site, store=store,
                                              pki_dir=self.pki_dir, broker_toml=broker_toml,
                                              pki_toml=self.signer.pki_toml() if self.signer else "",
                                              http_toml=http_toml, server_toml=server_toml,
                                              extra_toml=extra_toml))
                self.server.write_broker_files()
                self.broker = self.add(Mosquitto(self.dir, conf=self.dir / "broker" / "mosquitto.conf")).start()
                self.server.start()
            else:
                self.broker = self.add(Mosquitto(self.dir)).start()
                self.server = self.add(Server(self.dir, self.broker.uri, site=site, store=store,
                                              http_toml=http_toml, server_toml=server_toml,
                                              extra_toml=extra_toml)).start()
        except BaseException:
            self.close()  # never leave a broker behind when the server cannot start
            raise

    def add(self, proc):
        self.procs.append(proc)
        return proc

    def period(self):
        """`from=YYYY-MM&to=YYYY-MM`: the site's months (Asia/Shanghai, UTC+8) from this campus's start
        until now. Charges and usage reports cover one bounded period (the current month by default),
        so a run that straddles a month boundary still sees all of its data with this."""
        def month(s):
            return time.strftime("%Y-%m", time.gmtime(s + 8 * 3600))
        return f"from={month(self.started)}&to={month(time.time())}"

    def seed(self, instrument="inst-xrd", internal_rate=36000, external_rate=72000, require_booking=False):
        s = self.server
        s.post("/api/units", {"id": "chem", "name": "College of Chemistry"})
        s.post("/api/labs", {"id": "lab-xrd", "name": "X-ray lab", "unit": "chem"})
        s.post("/api/instruments", {"id": instrument, "name": "Powder XRD", "lab": "lab-xrd",
                                    "kind": "instrument", "require_booking": require_booking})
        s.post("/api/fee-standards", {"instrument": instrument, "internal_fen_per_hour": internal_rate,
                                      "external_fen_per_hour": external_rate})
        s.post("/api/users", {"id": "u-alice", "name": "Alice", "category": "internal", "unit": "chem"})
        s.post("/api/users", {"id": "u-bob", "name": "Bob", "category": "external"})
        s.post("/api/users", {"id": "u-eve", "name": "Eve (not trained)", "category": "internal"})
        s.post("/api/cards", {"uid": "A1A1A1A1", "user": "u-alice"})
        s.post("/api/cards", {"uid": "B2B2B2B2", "user": "u-bob"})
        s.post("/api/cards", {"uid": "E5E5E5E5", "user": "u-eve"})
        s.post("/api/qualifications", {"user": "u-alice", "instrument": instrument})
        s.post("/api/qualifications", {"user": "u-bob", "instrument": instrument})

    def terminal(self, term_id="t-xrd-01", resource="inst-xrd", sim=None, rtu=False, **kw):
        """Starts a Modbus simulator (unless given) and an enrolled terminal; waits for its first sync."""
        if sim is None:
            link = self.dir / f"{term_id}.pty" if rtu else None
            sim = self.add(ModbusSim(self.dir, name=f"{term_id}-modbus", rtu_link=link)).start()
        relay = {"device": str(sim.rtu_link)} if sim.rtu_link else {"port": sim.port}
        kw.setdefault("site", self.site)
        t = self.add(Terminal(self.dir, term_id, resource, self.broker.uri, self.server.public_key_path,
                              relay, **kw))
        if self.tls:
            t.enrol(self.server.url, self.enrol_token(term_id, resource))
        else:
            self.server.post("/api/terminals", {"id": term_id, "resource": resource, "public_key": t.public_key()})
        t.start()
        t.sim = sim
        wait_until(lambda: self.terminal_info(term_id).get("acl_version", 0) > 0, 30,
                   what=f"{term_id} to apply a sync bundle")
        return t

    def enrol_token(self, term_id, resource):
        """A one-time enrolment token for term_id (as labgatectl terminal enrol-token gives)."""
        return self.server.post("/api/terminals/enrolments", {"id": term_id, "resource": resource})["token"]

    def mqtt_cli(self, identity="server.observer"):
        """mosquitto_sub/_pub arguments that reach this campus's broker as identity (a certificate
        from the site CA, made with openssl); on a plain broker just the host and port."""
        args = ["-h", "127.0.0.1", "-p", str(self.broker.port)]
        if not self.broker.tls:
            return args
        cert, key = mint_identity(self.ca_dir, identity, self.dir / "clients")
        return args + ["--cafile", str(self.pki_dir / "ca.crt"), "--cert", str(cert), "--key", str(key)]

    def wait_synced(self, term_id, above=0, timeout=30):
        """Waits until the terminal reports (state acl_version) the server's current bundle version,
        which must be above `above`; returns that version."""
        def synced():
            info = self.terminal_info(term_id)
            v = info.get("sync_version", 0)
            return v if v > above and info.get("acl_version") == v else None
        return wait_until(synced, timeout, what=f"{term_id} to apply a bundle above v{above}")

    def settle(self, t, timeout=40):
        """Returns once everything terminal `t` did and published before the call, resends
        included, has been through the terminal's loop and the server's ingest: the observable
        event that stands in for "wait a while and see that nothing more happens".
        1. Swipe MARKER_CARD (denied, unknown_card: no relay action), a record after every
           earlier one in the terminal's sequence; wait until the server has stored it.
        2. Wait for a state message newer than that (last_seen moves on) saying the outbox is
           empty: the terminal holds the ack, so it resends nothing older from then on.
        3. Swipe a second marker and wait for it on the server: any resend made before that ack
           was published before it, so the server has been through it too.
        Needs broker and server up; tests that count access events leave the markers out
        (not_marker)."""
        def marker():
            seen = len(self.server.get(f"/api/access-events?terminal={t.id}&limit=10000"))
            r = t.swipe(MARKER_CARD)
            assert r["decision"] == "denied", r
            wait_until(lambda: len(self.server.get(f"/api/access-events?terminal={t.id}&limit=10000")) > seen,
                       timeout, what=f"{t.id}'s marker record on the server")
        marker()
        stored = self.terminal_info(t.id).get("last_seen")
        wait_until(lambda: (lambda i: i.get("last_seen") != stored and i.get("outbox_depth") == 0)(
            self.terminal_info(t.id)), timeout, what=f"{t.id} to report its outbox drained")
        marker()

    def wait_heartbeats(self, term_id, span_s, timeout=60):
        """Waits until the server has seen heartbeats of terminal `term_id` spanning span_s seconds
        (its last_seen moving on by that much): the terminal stayed connected that long."""
        first = wait_until(lambda: self.terminal_info(term_id).get("last_seen"), timeout,
                           what=f"{term_id} last_seen")
        start = parse_iso_ms(first)
        wait_until(lambda: parse_iso_ms(self.terminal_info(term_id)["last_seen"]) - start >= span_s * 1000,
                   timeout + span_s, interval=0.2, what=f"{term_id} heartbeats over {span_s} s")

    def terminal_info(self, term_id):
        for t in self.server.get("/api/terminals"):
            if t["id"] == term_id:
                return t
        return {}

    def close(self):
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception as e:  # keep stopping the others
                print(f"could not stop {p.name}: {e}")
        try:
            drop_pg_schemas(self.dir)
        except Exception as e:  # a test result must not depend on the clean-up
            print(f"could not drop the PostgreSQL schemas: {e}")
        if self.tmp is not None:
            self.tmp.cleanup()

    @property
    def store(self):
        """The campus server's store: None on SQLite, else its PgStore (pass it to share the database)."""
        return self.server.store

    def logs(self):
        out = "\n".join(f"===== {p.name}\n{p.log_text()[-4000:]}" for p in self.procs)
        if STORE == "postgres":
            try:
                pg_log = (pg_test_dir() / "postgres.log").read_text(errors="replace")
                out += f"\n===== postgres (shared by every test on the cluster)\n{pg_log[-4000:]}"
            except (OSError, RuntimeError):
                pass
        return out


def iso_ms(epoch_s):
    """RFC 3339 UTC with milliseconds, as the server writes times: 2026-11-27T08:00:00.000Z."""
    whole = int(epoch_s)
    ms = int(round((epoch_s - whole) * 1000))
    if ms == 1000:
        whole, ms = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{ms:03d}Z"


def parse_iso_ms(text):
    """Milliseconds since the epoch of a server time, RFC 3339 with 'Z' or an offset:
    2026-11-27T08:00:00.000Z, 2026-11-27T16:00:00.000+08:00 (the same instant)."""
    import calendar
    offset_s = 0
    if text.endswith(("Z", "z")):
        text = text[:-1]
    elif len(text) > 6 and text[-6] in "+-" and text[-3] == ":":
        offset_s = (int(text[-5:-3]) * 3600 + int(text[-2:]) * 60) * (1 if text[-6] == "+" else -1)
        text = text[:-6]
    base, _, frac = text.partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) - offset_s
    return secs * 1000 + int((frac + "000")[:3])


def charge_fen(duration_ms, rate_fen_per_hour):
    """The billing rule: round half up of duration x rate, integer arithmetic only."""
    return (duration_ms * rate_fen_per_hour + 1_800_000) // 3_600_000


def run(tests, **campus_kw):
    """Minimal runner: each test gets a fresh Campus (campus_kw: e.g. tls=False); prints the
    closing line ctest shows."""
    import sys
    import traceback
    only = sys.argv[1:]
    passed = failed = 0
    for t in tests:
        if only and t.__name__ not in only:
            continue
        campus = None
        try:
            campus = Campus(t.__name__, **campus_kw)
            t(campus)
            passed += 1
            print(f"PASS {t.__name__}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__}\n{traceback.format_exc()}\n{campus.logs() if campus else ''}", flush=True)
        finally:
            if campus:
                campus.close()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
