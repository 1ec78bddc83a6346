"""A whole assignment through nbgrader's exchange, as real Unix users (a multi-user course).

An instructor and two students, each a Unix account, share one exchange folder, configured the
way nbgrader's documentation describes for a course on one shared machine (a JupyterHub with
the local spawner): `c.Exchange.root` in every user's config, `c.CourseDirectory.course_id`,
the exchange world-writable. The instructor releases chapter 01; each student fetches it,
answers (ada right, bob with one mistake) and submits; the instructor collects, autogrades with
the course's nbgrader_config.py (the course's grader, out of the students' processes), generates
and releases feedback; each student fetches their feedback and finds their own score and the
course's messages, and nothing of the other student's.

A real JupyterHub on 127.0.0.1 (dummy authenticator, local spawner, the npm package
configurable-http-proxy) then spawns a student's server: it must run as that Unix user and its
nbgrader extension must list the chapter released through the exchange.

It needs root (to create the accounts) and is marked slow. The users run a venv holding hard links to this environment's interpreter and packages: the
interpreter may live under /root (pyenv), which other users cannot enter.
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "01_mnist_as_numbers"
NB = f"{ASSIGNMENT}.ipynb"
COURSE = "mnist-to-gpt"
TEACHER, STUDENTS = "mtg-teacher", ("mtg-ada", "mtg-bob")
SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd"), reason="needs root and useradd "
                       "to create the instructor's and the students' Unix accounts"),
    pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason=f"needs {SYSTEM_PYTHON} for the users' venv"),
]


def as_user(user, script, env=None, check=True):
    """`script` in bash, as `user`, in their home, with the shared venv first on PATH."""
    # LD_LIBRARY_PATH: a --enable-shared interpreter must load its own libpython, not Debian's
    full = (f"set -e\ncd ~\nexport PATH={SHARED}/venv/bin:$PATH PYTHONPATH={SHARED}/course "
            f"LD_LIBRARY_PATH={SHARED}/python/lib\n{script}")
    done = subprocess.run(["runuser", "-u", user, "--", "env", "-i", f"HOME=/home/{user}", "LANG=C.UTF-8",
                           *[f"{k}={v}" for k, v in (env or {}).items()], "bash", "-c", full],
                          capture_output=True, text=True, timeout=900)
    if check:
        assert done.returncode == 0, f"{user}: {script}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


SHARED = None


@pytest.fixture(scope="module")
def course():
    global SHARED
    shared = Path(tempfile.mkdtemp(prefix="mtg-exchange-test-", dir="/tmp"))
    SHARED = shared
    os.chmod(shared, 0o755)
    try:
        for user in (TEACHER, *STUDENTS):
            if subprocess.run(["id", user], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "-m", "-s", "/bin/bash", user], check=True)
        # the users' Python: Debian's, with this environment's packages as hard links (no copy)
        python = SYSTEM_PYTHON
        if Path(sys.base_prefix).resolve() != Path("/usr"):   # e.g. pyenv under /root: the same interpreter
            subprocess.run(["cp", "-al", str(Path(sys.base_prefix).resolve()), str(shared / "python")], check=True)
            python = shared / "python" / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
        subprocess.run([str(python), "-m", "venv", str(shared / "venv")], check=True)
        target = shared / "venv" / SITE.relative_to(sys.prefix)
        for entry in SITE.iterdir():
            if entry.name.startswith(("__editable__", "pip", "_distutils_hack", "distutils-precedence")):
                continue
            if not (target / entry.name).exists():
                subprocess.run(["cp", "-al", str(entry), str(target / entry.name)], check=True)
        for folder in ("share", "etc"):   # nbconvert's templates (feedback HTML); server extensions enabled
            if (Path(sys.prefix) / folder).is_dir():
                subprocess.run(["cp", "-al", str(Path(sys.prefix) / folder), str(shared / "venv" / folder)], check=True)
        # console scripts of this environment start its interpreter: the venv's own instead
        for name, module in (("alembic", "alembic.config"), ("nbgrader", "nbgrader.apps.nbgraderapp")):
            script = shared / "venv" / "bin" / name
            script.write_text(f"#!{shared}/venv/bin/python\nimport sys\nfrom {module} import main\nsys.exit(main())\n")
            script.chmod(0o755)
        # the course package, readable by every user (the instructor's install)
        (shared / "course").mkdir()
        shutil.copytree(ROOT / "grader", shared / "course" / "grader",
                        ignore=shutil.ignore_patterns("__pycache__"))
        exchange = shared / "exchange"
        exchange.mkdir()
        os.chmod(exchange, 0o777)
        subprocess.run(["chmod", "-R", "a+rX", str(shared)], check=True)
        os.chmod(exchange, 0o777)
        user_config = f"c = get_config()\nc.CourseDirectory.course_id = '{COURSE}'\nc.Exchange.root = '{exchange}'\n"
        answers = {"mtg-ada": json.loads((ROOT / "solutions" / NB).read_text())}
        wrong = json.loads((ROOT / "solutions" / NB).read_text())
        for cell in wrong["cells"]:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "one_hot":
                cell["source"] = "def one_hot(labels, num_classes=10):\n    return np.eye(num_classes)[labels].T\n"
        answers["mtg-bob"] = wrong
        for user, nb in answers.items():
            (shared / f"{user}.ipynb").write_text(json.dumps(nb))
        os.chmod(shared / "mtg-ada.ipynb", 0o644)
        os.chmod(shared / "mtg-bob.ipynb", 0o644)
        for user in (TEACHER, *STUDENTS):
            as_user(user, f"rm -rf ~/.jupyter ~/course ~/{ASSIGNMENT}\nmkdir -p ~/.jupyter\n"
                          f"cat > ~/.jupyter/nbgrader_config.py <<'EOF'\n{user_config}EOF")
        # the instructor's course directory: the course's nbgrader_config.py plus the course id
        teacher_env = {"GRADER_HIDDEN_SECRET": "the exchange test's secret", "GRADER_SANDBOX": "auto"}
        config = (ROOT / "nbgrader_config.py").read_text() + "\n" + user_config.replace("c = get_config()\n", "")
        as_user(TEACHER, f"mkdir -p course/source/{ASSIGNMENT}\ncp {ROOT}/solutions/{NB} course/source/{ASSIGNMENT}/\n"
                         f"cat > course/nbgrader_config.py <<'EOF'\n{config}EOF\n"
                         f"cd course\npython -m nbgrader generate_assignment {ASSIGNMENT}\n"
                         f"python -m nbgrader release_assignment {ASSIGNMENT}", teacher_env)
        for user in STUDENTS:
            as_user(user, f"python -m nbgrader fetch_assignment {ASSIGNMENT} --course {COURSE}\n"
                          f"cp {shared}/{user}.ipynb {ASSIGNMENT}/{NB}\n"
                          f"python -m nbgrader submit {ASSIGNMENT} --course {COURSE}")
        as_user(TEACHER, f"cd course\npython -m nbgrader collect {ASSIGNMENT}\n"
                         f"python -m nbgrader autograde {ASSIGNMENT} --create\n"
                         f"python -m nbgrader generate_feedback {ASSIGNMENT}\n"
                         f"python -m nbgrader release_feedback {ASSIGNMENT}\n"
                         f"python -m nbgrader export", teacher_env)
        feedback = {}
        for user in STUDENTS:
            as_user(user, f"python -m nbgrader fetch_feedback {ASSIGNMENT} --course {COURSE}")
            found = as_user(user, f"cat {ASSIGNMENT}/feedback/*/{ASSIGNMENT}.html").stdout
            listing = as_user(user, f"ls {ASSIGNMENT}/feedback/*/").stdout.split()
            feedback[user] = (found, listing)
        grades = as_user(TEACHER, "cat course/grades.csv").stdout
        yield shared, feedback, grades
    finally:
        for user in (TEACHER, *STUDENTS):
            subprocess.run(["userdel", "-r", user], capture_output=True)
        shutil.rmtree(shared, ignore_errors=True)


def test_each_student_sees_their_own_score(course):
    """ada answered everything right (6 of 6); bob transposed one_hot (5 of 6)."""
    _, feedback, grades = course
    assert "6.0 / 6.0" in feedback["mtg-ada"][0] and "5.0 / 6.0" not in feedback["mtg-ada"][0]
    assert "5.0 / 6.0" in feedback["mtg-bob"][0]
    rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(io.StringIO(grades))}
    assert rows == {"mtg-ada": 6.0, "mtg-bob": 5.0}


def test_feedback_carries_the_course_messages(course):
    """The wrong student's feedback names the mistake and its hint, from the course's grader."""
    _, feedback, _ = course
    assert "transposed result" in feedback["mtg-bob"][0]
    assert "passed" in feedback["mtg-ada"][0]


def test_a_student_gets_only_their_own_feedback(course):
    """Each student's feedback folder holds one notebook's feedback, and it does not mention the other."""
    _, feedback, _ = course
    for user, other in (("mtg-ada", "mtg-bob"), ("mtg-bob", "mtg-ada")):
        text, listing = feedback[user]
        assert listing == [f"{ASSIGNMENT}.html"]
        assert other not in text
    assert feedback["mtg-ada"][0] != feedback["mtg-bob"][0]


# ---------------------------------------------------------------- a real JupyterHub on 127.0.0.1

HUB_TOKEN = "the-exchange-tests-admin-token-0123456789"


@pytest.fixture(scope="module")
def hub(course):
    """JupyterHub (its proxy from the npm package configurable-http-proxy), the dummy
    authenticator, the local spawner: each user's server runs as that Unix user."""
    import socket
    import time
    import urllib.request
    if not shutil.which("configurable-http-proxy"):
        pytest.skip("no configurable-http-proxy (npm install -g configurable-http-proxy)")
    pytest.importorskip("jupyterhub")
    shared = course[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    singleuser = shared / "venv" / "bin" / "jupyterhub-singleuser"
    singleuser.write_text(f"#!{shared}/venv/bin/python\nimport sys\nfrom jupyterhub.singleuser import main\n"
                          "sys.exit(main())\n")
    singleuser.chmod(0o755)
    hub_dir = shared / "hub"
    hub_dir.mkdir()
    (hub_dir / "jupyterhub_config.py").write_text(f"""
c = get_config()
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{"{TEACHER}", "{STUDENTS[0]}", "{STUDENTS[1]}"}}
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = ["{singleuser}"]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {{"PYTHONPATH": "{shared}/course", "LD_LIBRARY_PATH": "{shared}/python/lib",
                         "PATH": "{shared}/venv/bin:/usr/bin:/bin"}}
c.JupyterHub.services = [{{"name": "exchange-test", "api_token": "{HUB_TOKEN}"}}]
c.JupyterHub.load_roles = [{{"name": "exchange-test", "services": ["exchange-test"],
                             "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"]}}]
""")
    log = open(hub_dir / "hub.log", "w")
    proc = subprocess.Popen([str(Path(sys.prefix) / "bin" / "jupyterhub"), "-f", str(hub_dir / "jupyterhub_config.py")],
                            cwd=hub_dir, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PATH": str(Path(sys.prefix) / "bin") + os.pathsep + os.environ["PATH"]})
    base = f"http://127.0.0.1:{port}"

    def api(method, path, body=None):
        request = urllib.request.Request(base + "/hub/api" + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"token {HUB_TOKEN}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return json.loads(text) if text else None
    try:
        for _ in range(120):
            try:
                api("GET", "/")
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterHub did not start:\n" + (hub_dir / "hub.log").read_text()[-3000:])
        yield base, api, hub_dir
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_the_hub_spawns_each_users_server_as_that_user_with_the_course_exchange(hub):
    """A student's server, spawned by the hub, runs as their Unix account and its nbgrader
    extension lists the chapter released through the exchange."""
    import time
    import urllib.request
    base, api, hub_dir = hub
    user = STUDENTS[0]
    api("POST", f"/users/{user}/server")
    for _ in range(120):
        if api("GET", f"/users/{user}")["servers"].get("", {}).get("ready"):
            break
        time.sleep(1)
    else:
        pytest.fail("the server did not start:\n" + (hub_dir / "hub.log").read_text()[-3000:])
    processes = subprocess.run(["ps", "-eo", "user:32=,args="], capture_output=True, text=True).stdout.splitlines()
    venv_python = str(hub_dir.parent / "venv" / "bin" / "python")   # the server retitles itself "python"
    owners = {line.split()[0] for line in processes if venv_python in line}
    assert owners == {user}, [line for line in processes if venv_python in line]
    token = api("POST", f"/users/{user}/tokens", {"scopes": [f"access:servers!user={user}"]})["token"]
    request = urllib.request.Request(f"{base}/user/{user}/assignments?course_id={COURSE}",
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        listing = json.loads(response.read())
    names = [a["assignment_id"] for a in listing["value"]]
    assert ASSIGNMENT in names, listing
    api("DELETE", f"/users/{user}/server")
