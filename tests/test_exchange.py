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
nbgrader extension must list the chapter released through the exchange. Then, in a headless
Chromium through that hub (tests/browser.py), a third student fetches, checks and submits from
nbgrader's Assignments tab, and the instructor collects the submission in the formgrader.

It needs root (to create the accounts) and is marked slow. The users run a venv holding hard links to this environment's interpreter and packages: the
interpreter may live under /root (pyenv), which other users cannot enter.
"""
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest

from tests.browser import (ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, expect, quiet_settings, sync_playwright,
                           with_browser)

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "01_mnist_as_numbers"
NB = f"{ASSIGNMENT}.ipynb"
COURSE = "mnist-to-gpt"
TEACHER, STUDENTS = "mtg-teacher", ("mtg-ada", "mtg-bob")
LEARNER = "mtg-cy"   # a third student who only ever uses the browser (test_the_assignment_in_the_browser)
USERS = (TEACHER, *STUDENTS, LEARNER)
SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd"), reason="needs root and useradd "
                       "to create the instructor's and the students' Unix accounts"),
    # Debian's interpreter serves the users as it is; any other (pyenv, a python image's
    # /usr/local) is hard-linked into the shared folder by the `course` fixture
    pytest.mark.skipif(Path(sys.base_prefix).resolve() == Path("/usr") and not SYSTEM_PYTHON.exists(),
                       reason=f"needs {SYSTEM_PYTHON} for the users' venv"),
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
        for user in USERS:
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
        # the instructor's also names their course directory: the formgrader, in their server
        # started in their home, finds the gradebook and submitted/ there
        teacher_config = user_config + f"c.CourseDirectory.root = '/home/{TEACHER}/course'\n"
        for user in USERS:
            own = teacher_config if user == TEACHER else user_config
            as_user(user, f"rm -rf ~/.jupyter ~/course ~/{ASSIGNMENT}\nmkdir -p ~/.jupyter\n"
                          f"cat > ~/.jupyter/nbgrader_config.py <<'EOF'\n{own}EOF")
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
        for user in USERS:
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
c.Authenticator.allowed_users = {{{", ".join(repr(u) for u in USERS)}}}
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


# ---------------------------------------------------------------- the same, in a browser

# Generous: the machines that run this have 2 shared cores. Milliseconds, as Playwright wants.
SPAWN_MS = 240_000      # login to a loaded JupyterLab: the hub spawns the server first
KERNEL_MS = 180_000     # a notebook's kernel started and idle
ACTION_MS = 120_000     # fetch, check, save, submit, collect: each a few seconds on a quiet machine
# A right answer to chapter 01's first exercise, written as a learner might (not the reference's text)
TO_VECTORS = ("def to_vectors(images):\n"
              "    flat = images.reshape(images.shape[0], 28 * 28)\n"
              "    return flat.astype(np.float64) / 255\n")


def log_in(browser, base, user, shots):
    """A fresh browser context (its own cookies) logged in through the hub's login page,
    on the user's JupyterLab, once the hub has spawned their server and Lab has loaded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(ACTION_MS)
    page = context.new_page()
    shots.append((page, user))
    page.goto(f"{base}/hub/login", timeout=SPAWN_MS)
    page.fill("#username_input", user)
    page.fill("#password_input", "the dummy authenticator takes any password")
    page.click("#login_submit")
    # /hub/spawn-pending/USER redirects by itself once the server is up
    page.wait_for_url(f"**/user/{user}/lab**", timeout=SPAWN_MS)
    expect(page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text="Nbgrader")).to_be_visible(timeout=SPAWN_MS)
    return page


def open_from_nbgrader_menu(page, command, label):
    """Nbgrader > `label` in Lab's menu bar; the tab it opens is the current one."""
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(f'li.lm-Menu-item[data-command="{command}"]').click()
    current = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
    expect(current).to_have_text(label, timeout=ACTION_MS)


def run_cell(page, cell):
    """Shift+Enter in the cell's editor, then wait for its prompt to read "[n]:" (it reads
    "[*]:" while queued or running)."""
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=KERNEL_MS)


def stop_servers(api, users, timeout_s=120):
    """Stop the users' servers through the hub and wait until they have stopped (kernels
    included), so that the fixtures' teardown finds no process left to the accounts."""
    for user in users:
        try:
            api("DELETE", f"/users/{user}/server")
        except OSError:
            pass
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(api("GET", f"/users/{user}")["servers"] for user in users):
            return
        time.sleep(1)


@with_browser
def test_the_assignment_in_the_browser_through_the_hub(hub):
    """A student and the instructor, in a real (headless) Chromium, through the hub.

    Why this exists: test_the_hub_spawns... asks the student's server's nbgrader API directly;
    what a class sees is the hub's login page, Lab, nbgrader's Assignments tab and formgrader,
    and each of those can break on its own (the lab extension not loaded in the singleuser
    server, the exchange not writable from it, the formgrader not finding the course directory,
    a notebook that fetches but whose `check` cannot import the course). mtg-cy, a student
    who has done nothing before, logs in, opens Nbgrader > Assignments, fetches chapter 01,
    opens the fetched notebook from the list, answers the first exercise, runs its `check`
    cell and reads "passed", saves, and submits from the Assignments tab, where the
    submission is then listed. The instructor logs in, opens Nbgrader > Formgrader, and opens
    the page that tab frames in a browser tab of its own (JupyterHub >= 4.1 forbids framing a
    user's server, so the Lab tab stays blank: see docs/jupyterhub.md), where "Manage
    Assignments" shows; collects, sees the number of submissions go from 2 (the two students of
    the `course` fixture) to 3, and finds mtg-cy in the assignment's submissions, with the
    notebook they saved collected. Screenshots of every page go to tests/artifacts/hub-*.png and
    the hub's log (with the servers') to tests/artifacts/hub.log (git-ignored), pass or fail.

    DOM this relies on (JupyterHub 6, JupyterLab 4, the nbgrader 0.9.6 lab extension; update
    here if an upgrade breaks the test):
      #username_input #password_input #login_submit     the hub's login form
      #jp-menu-panel .lm-MenuBar-itemLabel "Nbgrader"   nbgrader's menu in Lab's menu bar
      li.lm-Menu-item[data-command="nbgrader:open-assignment-list"]   its "Assignments" item
      li.lm-Menu-item[data-command="nbgrader:open-formgrader"]        its "Formgrader" item
      #course_list_default                              the course chosen in the Assignments tab
      #released_assignments_list > .list_item           a released row; .item_status button "Fetch"
      #fetched_assignments_list > .list_item            a fetched row; a.assignment-notebooks-link
                                                        unfolds #nbgrader-COURSE-ASSIGNMENT (its
                                                        notebooks: .item_name a opens one), and
                                                        .item_status button "Submit"
      #submitted_assignments_list > .list_item          a submitted row, and in it
      #nbgrader-COURSE-ASSIGNMENT-submissions > .list_item   a header row, then one per submission
      .jp-CodeCell .jp-InputArea-editor / .jp-InputPrompt / .jp-OutputArea-output   a cell
      .lm-TabBar-tab.jp-mod-dirty                       a document with unsaved changes
      #formgrader-iframe iframe                         the Formgrader tab's frame (its src)
      formgrader's manage_assignments: tr > td.name / td.collect a / td.num-submissions (a),
      #success-modal (its OK button); manage_submissions: tr > td.student-id / td.status
    """
    base, api, hub_dir = hub
    exchange = hub_dir.parent / "exchange"
    for user in (LEARNER, TEACHER):   # no news pop-up over the page, every cell in the DOM
        quiet_settings(Path(f"/home/{user}/.jupyter/lab/user-settings"))
        subprocess.run(["chown", "-R", f"{user}:", f"/home/{user}/.jupyter"], check=True)
    fetched = Path(f"/home/{LEARNER}/{ASSIGNMENT}/{NB}")
    item = f"nbgrader-{COURSE}-{ASSIGNMENT}"   # the Assignments tab's id for the assignment
    shots, problems = [], []
    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            # ---- the student
            page = log_in(browser, base, LEARNER, shots)
            page.on("pageerror", lambda exc: problems.append(f"{LEARNER} page error: {exc}"))
            open_from_nbgrader_menu(page, "nbgrader:open-assignment-list", "Assignments")
            expect(page.locator("#course_list_default")).to_have_text(COURSE, timeout=ACTION_MS)
            released = page.locator("#released_assignments_list > .list_item", has_text=ASSIGNMENT)
            released.locator(".item_status button", has_text="Fetch").click()
            row = page.locator("#fetched_assignments_list > .list_item", has_text=ASSIGNMENT)
            expect(row).to_have_count(1, timeout=ACTION_MS)
            assert fetched.exists(), f"the Assignments tab says fetched, but there is no {fetched}"
            row.locator("a.assignment-notebooks-link").click()
            expect(page.locator(f"#{item}.collapse.in")).to_be_visible(timeout=ACTION_MS)
            page.locator(f"#{item} .item_name a", has_text=ASSIGNMENT).click()

            notebook = page.locator(".jp-NotebookPanel:visible")
            expect(notebook.locator(".jp-Cell").first).to_be_visible(timeout=KERNEL_MS)
            # a cell run before the kernel is up could be lost: wait for "Python 3 (ipykernel) | Idle"
            page.wait_for_function(
                "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText ?? '')",
                timeout=KERNEL_MS)
            cells = notebook.locator(".jp-CodeCell")
            imports = cells.filter(has=page.locator(".jp-InputArea-editor", has_text="from grader import check"))
            answer = cells.filter(has=page.locator(".jp-InputArea-editor", has_text="def to_vectors"))
            checked = cells.filter(has=page.locator(".jp-InputArea-editor", has_text="check(to_vectors)"))
            for cell in (imports, answer, checked):
                expect(cell).to_have_count(1, timeout=ACTION_MS)
            run_cell(page, imports)
            answer.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Control+a")         # the whole cell: the stub goes
            page.keyboard.insert_text(TO_VECTORS)    # as pasted text: no auto-indent, no auto-close
            run_cell(page, answer)
            run_cell(page, checked)
            output = checked.locator(".jp-OutputArea-output")
            expect(output).to_contain_text("01.to_vectors: all tests passed", timeout=KERNEL_MS)
            assert "Traceback" not in output.inner_text()
            page.keyboard.press("Control+s")
            unsaved = page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-dirty")
            expect(unsaved).to_have_count(0, timeout=ACTION_MS)
            saved = json.loads(fetched.read_text())
            assert any("images.shape[0], 28 * 28" in "".join(c["source"]) for c in saved["cells"]), \
                f"the answer typed in the browser is not in the saved {fetched}"

            page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Assignments").click()
            row.locator(".item_status button", has_text="Submit").click()
            submitted = page.locator("#submitted_assignments_list > .list_item", has_text=ASSIGNMENT)
            expect(submitted).to_have_count(1, timeout=ACTION_MS)
            submissions = submitted.locator(f"#{item}-submissions > .list_item")
            expect(submissions).to_have_count(2, timeout=ACTION_MS)   # a header row, then this one
            inbound = list((exchange / COURSE / "inbound").glob(f"{LEARNER}+{ASSIGNMENT}+*"))
            assert len(inbound) == 1, f"the exchange's inbound holds {inbound} for {LEARNER}"

            # ---- the instructor
            page = log_in(browser, base, TEACHER, shots)
            page.on("pageerror", lambda exc: problems.append(f"{TEACHER} page error: {exc}"))
            open_from_nbgrader_menu(page, "nbgrader:open-formgrader", "Formgrader")
            # The tab frames the formgrader, and JupyterHub >= 4.1 forbids framing a user's server
            # (Content-Security-Policy: frame-ancestors 'none'): the tab stays blank. nbgrader's
            # documented way round, kept here: the frame's page in a browser tab of its own.
            src = page.locator("#formgrader-iframe iframe").get_attribute("src", timeout=ACTION_MS)
            assert src.endswith(f"/user/{TEACHER}/formgrader"), src
            grader = page.context.new_page()
            shots.append((grader, f"{TEACHER}-formgrader"))
            grader.on("pageerror", lambda exc: problems.append(f"formgrader page error: {exc}"))
            grader.goto(urljoin(page.url, src), timeout=ACTION_MS)
            grader.wait_for_url("**/formgrader/manage_assignments", timeout=ACTION_MS)
            assignment = grader.locator("tr", has=grader.locator("td.name", has_text=ASSIGNMENT))
            count = assignment.locator("td.num-submissions")
            expect(count).to_have_text("2", timeout=ACTION_MS)   # ada's and bob's, from the course fixture
            assignment.locator("td.collect a").click()
            modal = grader.locator("#success-modal")
            expect(modal).to_contain_text(f"Successfully collected submissions of '{ASSIGNMENT}'",
                                          timeout=ACTION_MS)
            modal.locator(".modal-footer button", has_text="OK").click()
            expect(modal).to_have_count(0, timeout=ACTION_MS)
            expect(count).to_have_text("3", timeout=ACTION_MS)
            count.locator("a").click()   # the assignment's submissions
            student = grader.locator("tr", has=grader.locator("td.student-id", has_text=LEARNER))
            expect(student).to_have_count(1, timeout=ACTION_MS)
            expect(student.locator("td.status")).to_contain_text("needs autograding", timeout=ACTION_MS)
            collected = Path(f"/home/{TEACHER}/course/submitted/{LEARNER}/{ASSIGNMENT}/{NB}")
            assert "images.shape[0], 28 * 28" in collected.read_text(), \
                f"the collected {collected} is not the notebook the student saved"
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for shot, user in shots:
                try:
                    shot.screenshot(path=str(ARTIFACTS / f"hub-{user}.png"), full_page=True)
                except Exception as exc:   # a crashed page must not hide the test's own failure
                    problems.append(f"no screenshot of {user}: {exc}")
            browser.close()
            shutil.copy(hub_dir / "hub.log", ARTIFACTS / "hub.log")   # the hub's and the servers' logs
            print(f"the browser test took {time.monotonic() - started:.0f} s; browser errors: {problems[-20:]}")
            stop_servers(api, (LEARNER, TEACHER))
