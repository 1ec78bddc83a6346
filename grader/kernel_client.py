"""A Jupyter kernel client that cannot sleep through a kernel's reply.

Why this exists: when a notebook is executed by a program (nbgrader's autograde, nbconvert,
the course's own tests), nbclient waits for each cell's reply with one long `poll` on a ZeroMQ
socket. Now and then that poll misses the wake-up for a reply that has already arrived (ZeroMQ
signals arrival on an edge-triggered file descriptor, and an edge can be lost while the event
loop is busy with a large output, such as a figure from an `ipywidgets.interact` cell). The
reply is then only seen when the poll times out: a cell that ran in 0.1 s holds the run up for
the whole per-cell timeout (600 s in the course's nbgrader_config.py), and then carries on as
if nothing had happened. Measured here on chapter 06 with jupyter_client 8.10, pyzmq 27.3 and
26.4, ipykernel 7.4 and 6.31: 11 runs in 20 stalled for exactly the timeout; none of 20 with
this client.

The fix is to poll in short slices until the caller's deadline: every slice ends with a fresh
look at the socket, so a missed wake-up costs at most `POLL_SLICE_S`. Nothing else changes.

Use it by naming the client class in the kernel manager's configuration,

    c.AsyncKernelManager.client_class = "grader.kernel_client.PatientKernelClient"

as nbgrader_config.py does, or in code build the runner with `notebook_client(nb, folder, timeout)`.
"""
from math import ceil
from queue import Empty
from time import monotonic

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from nbclient import NotebookClient
from traitlets import Type
from traitlets.config import Config

POLL_SLICE_S = 0.5


class PatientChannel(AsyncZMQSocketChannel):
    """`get_msg` with the same contract (a message, or queue.Empty after `timeout` seconds;
    `timeout=None` waits for ever), built from short polls instead of one long one."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            left = POLL_SLICE_S if deadline is None else max(0.0, deadline - monotonic())
            # Round up: a remainder under 1 ms must not become poll(0) over and over.
            if await self.socket.poll(ceil(min(POLL_SLICE_S, left) * 1000)):
                return await self._recv()
            if deadline is not None and monotonic() >= deadline:
                raise Empty


class PatientKernelClient(AsyncKernelClient):
    """An AsyncKernelClient whose shell, IOPub, stdin and control channels poll in slices."""

    shell_channel_class = Type(PatientChannel)
    iopub_channel_class = Type(PatientChannel)
    stdin_channel_class = Type(PatientChannel)
    control_channel_class = Type(PatientChannel)


def patient_config() -> Config:
    """Configuration that makes nbclient's kernel manager hand out PatientKernelClients."""
    config = Config()
    config.AsyncKernelManager.client_class = f"{__name__}.PatientKernelClient"
    return config


def notebook_client(nb, folder, timeout: int) -> NotebookClient:
    """The runner for a course notebook, as the tests and benchmarks run it: a fresh python3
    kernel started in `folder` (the notebook's own, as in Jupyter), at most `timeout` seconds per
    cell, talking through PatientKernelClients."""
    return NotebookClient(nb, kernel_name="python3", timeout=timeout, config=patient_config(),
                          resources={"metadata": {"path": str(folder)}})
