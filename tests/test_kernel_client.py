"""grader.kernel_client: a reply that arrived is seen within one poll slice, not at the timeout.

Why this exists: chapter 06's notebook, run by nbclient (as nbgrader's autograde and
tests/test_notebooks.py run it), now and then sat for the whole 600 s cell timeout after a
widget cell whose reply had already arrived: the poll on the kernel's socket missed its
wake-up and only looked again when it timed out. These tests replay that with a fake socket
whose poll *always* misses the wake-up (it wakes only when its own timeout runs out, then looks
once) and a fake clock, so they are exact and take no real time. The stock client's figure is
asserted too: it shows what the patient client is for, and that the fake reproduces the stall.
"""
import asyncio
from pathlib import Path
from queue import Empty

from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets.config.loader import PyFileConfigLoader

import grader.kernel_client as kernel_client
from grader.kernel_client import POLL_SLICE_S, PatientChannel, PatientKernelClient, patient_config

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class DeafSocket:
    """A socket whose message arrives at `arrives_at` (None: never), and whose poll never hears
    the arrival: it sleeps its whole timeout, then looks once (None: sleeps until the arrival)."""

    def __init__(self, clock, arrives_at):
        self.clock, self.arrives_at, self.polls = clock, arrives_at, []

    def ready(self):
        return self.arrives_at is not None and self.clock.now >= self.arrives_at

    async def poll(self, timeout_ms=None):
        self.polls.append(timeout_ms)
        if self.ready():
            return 1
        if timeout_ms is None:
            if self.arrives_at is None:
                raise AssertionError("poll(None) on a socket that never gets a message: a hang")
            self.clock.now = self.arrives_at
        else:
            self.clock.now += timeout_ms / 1000
        return 1 if self.ready() else 0


def channel(cls, socket):
    """A channel around the fake socket (the real constructor insists on a zmq socket)."""
    chan = object.__new__(cls)
    chan.socket = socket

    async def recv():
        return {"msg_type": "execute_reply"}
    chan._recv = recv
    return chan


def get_msg(cls, monkeypatch, arrives_at, timeout):
    clock = Clock()
    monkeypatch.setattr(kernel_client, "monotonic", clock)
    socket = DeafSocket(clock, arrives_at)
    try:
        msg = asyncio.run(channel(cls, socket).get_msg(timeout=timeout))
    except Empty:
        msg = None
    return msg, clock.now, socket.polls


def test_missed_wakeup_costs_one_slice_not_the_timeout(monkeypatch):
    """The reply arrives 0.2 s into a 600 s wait. The stock channel hears it at 600 s; the
    patient one within one slice of its arrival."""
    msg, seen_at, _ = get_msg(AsyncZMQSocketChannel, monkeypatch, arrives_at=0.2, timeout=600)
    assert msg is not None and seen_at == 600, "the fake no longer reproduces the stall"

    msg, seen_at, polls = get_msg(PatientChannel, monkeypatch, arrives_at=0.2, timeout=600)
    assert msg == {"msg_type": "execute_reply"}
    assert seen_at <= 0.2 + POLL_SLICE_S, f"reply seen at {seen_at} s"
    assert all(ms is not None and ms <= POLL_SLICE_S * 1000 for ms in polls)


def test_no_message_raises_empty_at_the_deadline(monkeypatch):
    """The contract of get_msg is unchanged: queue.Empty once `timeout` seconds have passed,
    not before and not a slice later (the last poll rounds up to whole milliseconds)."""
    msg, gave_up_at, _ = get_msg(PatientChannel, monkeypatch, arrives_at=None, timeout=2.3)
    assert msg is None
    assert 2.3 <= gave_up_at <= 2.3 + 0.001


def test_no_timeout_waits_until_the_message(monkeypatch):
    """timeout=None (how nbclient reads IOPub) waits for ever, in slices, and returns the
    message within a slice of its arrival."""
    msg, seen_at, polls = get_msg(PatientChannel, monkeypatch, arrives_at=100.0, timeout=None)
    assert msg is not None
    assert 100.0 <= seen_at <= 100.0 + POLL_SLICE_S
    assert None not in polls


def test_a_message_already_there_is_returned_at_once(monkeypatch):
    msg, seen_at, polls = get_msg(PatientChannel, monkeypatch, arrives_at=0.0, timeout=5)
    assert msg is not None and seen_at == 0.0 and len(polls) == 1


def test_every_channel_is_patient_and_nbgrader_uses_the_client():
    """nbgrader builds its kernel manager from the course's nbgrader_config.py, and nbclient
    (our notebook tests) from patient_config(): both must name PatientKernelClient, and it must
    import from that name, or autograde silently falls back to the stock client."""
    for name in ("shell", "iopub", "stdin", "control"):
        assert PatientKernelClient.class_traits()[f"{name}_channel_class"].default_value is PatientChannel
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    for named in (config.AsyncKernelManager.client_class,
                  patient_config().AsyncKernelManager.client_class):
        module, _, cls = named.rpartition(".")
        assert getattr(__import__(module, fromlist=[cls]), cls) is PatientKernelClient


def test_nbgrader_autograde_builds_a_patient_client():
    """The chain that matters end to end: nbgrader's Execute preprocessor, configured from the
    course's nbgrader_config.py, creates a kernel manager that hands out PatientKernelClients
    (a misspelt config section would leave the stock client in place without a word)."""
    import nbformat
    from nbgrader.preprocessors import Execute

    execute = Execute(config=PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config())
    execute.nb, execute.resources = nbformat.v4.new_notebook(), {}
    client = execute.create_kernel_manager().client()
    assert isinstance(client, PatientKernelClient)
    assert isinstance(client.shell_channel, PatientChannel)
