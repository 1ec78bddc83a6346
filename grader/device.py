"""Where the chapters that train or generate run: one choice, made once per notebook.

    from grader.device import pick_device, synchronize
    device = pick_device()        # prints one line: which device, and how to override it

The order is CUDA (Colab's T4, any NVIDIA card), then Apple's MPS (an M-series Mac), then the
CPU. `COURSE_DEVICE=cpu` (or `cuda`, `cuda:1`, `mps`) overrides it, for example to compare
speeds or to reproduce the CPU figures on a GPU machine. The grader's checks never use this:
they always run on the CPU, so a check gives the same verdict on every machine.
"""
import os

OVERRIDE = "COURSE_DEVICE"


def _available(torch, kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return mps is not None and mps.is_available()
    return kind == "cpu"


def pick_device(verbose: bool = True):
    """CUDA, else MPS, else CPU (or what COURSE_DEVICE says), as a torch.device."""
    import torch

    wanted = os.environ.get(OVERRIDE, "").strip()
    if wanted:
        try:
            device = torch.device(wanted)
        except RuntimeError:
            raise ValueError(f"{OVERRIDE}={wanted!r} is not a device: use cpu, cuda or mps") from None
        if not _available(torch, device.type):
            raise ValueError(f"{OVERRIDE}={wanted!r}, but this machine has no {device.type} device "
                             f"(unset {OVERRIDE} to pick one automatically)")
        why = f"set by {OVERRIDE}"
    else:
        kind = next(k for k in ("cuda", "mps", "cpu") if _available(torch, k))
        device = torch.device(kind)
        why = f"{OVERRIDE}=cpu overrides" if kind != "cpu" else f"no CUDA or MPS GPU found ({OVERRIDE} overrides)"
    if verbose:
        name = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
        print(f"device: {device}{name}; {why}")
    return device


def synchronize(device) -> None:
    """Wait for the device's queued work, so that a timer measures it (GPUs run asynchronously)."""
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()
