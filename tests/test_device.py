"""One device per notebook, chosen once; the grader's checks stay on the CPU.

These run on any machine: a GPU is represented by patching torch's own availability probes,
so the order (CUDA, then MPS, then the CPU), the printed line and the COURSE_DEVICE override
are all tested here. The last test runs only where CUDA is real (benchmarks/gpu_check.py
runs it there).
"""
import numpy as np
import pytest
import torch

from grader.device import pick_device, synchronize
from grader.engine import all_exercises, grade_function
from grader.values import TensorValue, normalize


@pytest.fixture
def machine(monkeypatch):
    """Pretend the machine has the GPUs named in `set(...)`."""
    monkeypatch.delenv("COURSE_DEVICE", raising=False)

    def set(cuda=False, mps=False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    return set


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_the_first_available_of_cuda_mps_cpu_is_picked_and_said(machine, capsys, cuda, mps, expected):
    """A Colab learner must see at once that the T4 is used; a laptop learner that it is not."""
    machine(cuda=cuda, mps=mps)
    device = pick_device()
    assert device == torch.device(expected)
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and line.startswith(f"device: {expected}")
    assert ("Tesla T4" in line) == (expected == "cuda")
    assert "COURSE_DEVICE" in line    # how to change it, or that nothing else was found


def test_course_device_overrides_the_choice(machine, monkeypatch, capsys):
    """COURSE_DEVICE=cpu on a GPU machine reproduces the CPU figures the notebooks quote."""
    machine(cuda=True)
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    assert "set by COURSE_DEVICE" in capsys.readouterr().out


@pytest.mark.parametrize("value, says", [("cuda", "no cuda device"), ("tpu9", "is not a device")])
def test_an_impossible_override_is_refused_with_the_reason(machine, monkeypatch, value, says):
    """Asking for a GPU the machine lacks must not silently train on the CPU instead."""
    machine(cuda=False)
    monkeypatch.setenv("COURSE_DEVICE", value)
    with pytest.raises(ValueError, match=says):
        pick_device()


def test_synchronize_is_a_no_op_on_the_cpu():
    synchronize(torch.device("cpu"))
    synchronize("cpu")


def test_normalize_copies_tensors_to_the_cpu(monkeypatch):
    """A learner's answer computed on a GPU comes back as a CUDA tensor; the grader compares
    numpy arrays, so normalize must go through `.cpu()` (a CUDA tensor has no `.numpy()`).
    The call is observed by wrapping torch.Tensor.cpu."""
    seen = []
    real_cpu = torch.Tensor.cpu

    def recording_cpu(self, *args, **kwargs):
        seen.append(self.device)
        return real_cpu(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "cpu", recording_cpu)
    got = normalize((torch.arange(3.0), {"w": torch.ones(2, dtype=torch.bfloat16)}))
    assert len(seen) == 2
    assert isinstance(got[0], TensorValue) and np.array_equal(got[0].array, [0, 1, 2])
    assert got[1]["w"].dtype == "torch.bfloat16"


def test_checks_run_on_the_cpu_whatever_the_default_device():
    """A notebook that called torch.set_default_device(...) must not move the checks: the
    inputs, the reference and the learner's model are still built on the CPU. ('meta' stands
    for a GPU here: a meta tensor holds no values, so any check run there would fail.)"""
    exercises = all_exercises()
    torch.set_default_device("meta")
    try:
        for key in ["10.GPT", "10.generate", "11.greedy_decode", "12.forward_cached"]:
            result = grade_function(exercises[key], exercises[key].reference())
            assert result.passed, (key, result.message)
    finally:
        torch.set_default_device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (benchmarks/gpu_check.py)")
def test_answers_returning_cuda_tensors_are_graded_like_cpu_ones():
    """The same answer, returning its tensors on the GPU, gets the same full marks."""
    exercises = all_exercises()
    for key in ["12.quantize_int8", "12.dequantize_q4_blocks", "11.label_smoothed_cross_entropy"]:
        reference = exercises[key].reference()

        def on_gpu(*args, _f=reference):
            out = _f(*args)
            return tuple(t.cuda() for t in out) if isinstance(out, tuple) else out.cuda()

        result = grade_function(exercises[key], on_gpu)
        assert result.passed, (key, result.message)


def test_case_arguments_with_a_generator_are_copied_by_state():
    """torch < 2.4 cannot deep-copy a torch.Generator (chapter 05's get_batch takes one): the
    learner's copy of the arguments must still be an independent generator in the same state."""
    from grader.engine import copy_args
    g = torch.Generator().manual_seed(7)
    args = (torch.arange(3), {"g": g}, [g])
    copied = copy_args(args)
    assert copied[1]["g"] is not g and copied[1]["g"] is copied[2][0]
    assert torch.equal(torch.randint(100, (5,), generator=copied[1]["g"]), torch.randint(100, (5,), generator=g))
