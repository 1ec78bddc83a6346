"""Results are reduced to plain data before any comparison, so objects cannot lie about themselves."""
import numpy as np
import torch

from grader.compare import compare_values
from grader.values import Opaque, TensorValue, decode, encode, normalize


class RiggedTensor(torch.Tensor):
    """A tensor subclass that claims to equal anything and intercepts every torch function."""

    def __eq__(self, other):
        return torch.ones(self.shape, dtype=torch.bool)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


class RiggedArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, bool)

    def __sub__(self, other):
        return np.zeros(self.shape)


def test_a_rigged_tensor_subclass_is_compared_by_its_values():
    got = normalize(torch.zeros(3).as_subclass(RiggedTensor))
    expected = normalize(torch.ones(3))
    assert type(got) is TensorValue and type(got.array) is np.ndarray
    assert compare_values(got, expected) is not None


def test_a_rigged_ndarray_subclass_is_compared_by_its_values():
    got = normalize(np.zeros(3).view(RiggedArray))
    assert type(got) is np.ndarray
    assert compare_values(got, np.ones(3)) is not None


def test_results_cross_the_process_boundary_as_data_only():
    value = (np.arange(3.0), torch.ones(2, dtype=torch.float32, requires_grad=True) * 2, {"k": [1, 2.5, None, "s"]},
             object())
    back = decode(encode(normalize(value)))
    assert np.array_equal(back[0], np.arange(3.0))
    assert back[1].dtype == "torch.float32" and np.array_equal(back[1].array, [2, 2])
    assert back[2] == {"k": [1, 2.5, None, "s"]}
    assert isinstance(back[3], Opaque)


def test_messages_name_the_parts_of_a_tuple_result():
    """A learner reads "loss: expected 2.3, got 4.6", not "[1]: expected ..."."""
    from grader.compare import close
    logits = normalize(torch.zeros(2, 3))
    compare = close(parts=("logits", "loss"))
    assert compare((logits, 4.6), (logits, 2.3), ()).message == "loss: expected 2.3, got 4.6"
    assert compare((logits,), (logits, 2.3), ()).message == "expected 2 items (logits, loss), got 1"
    nested = compare_values(((1.0, 2.0), 3.0), ((1.0, 2.5), 3.0), parts=("pair", "x"))
    assert nested.message == "pair[1]: expected 2.5, got 2"
    assert compare_values((1.0, 2.0), (1.0, 2.5)).message == "[1]: expected 2.5, got 2"
