"""Course hints for the errors PyTorch and numpy raise most often in these exercises.

torch's own message says what broke, in its terms; the hint says what it usually means in an
exercise and how to fix it. Patterns match the first line of the error ("Type: message")."""
import re

HINTS = [
    (r"view size is not compatible with input tensor's size and stride",
     "`view` only re-reads memory in order, and after a `transpose` (or `permute`) the memory is "
     "no longer in order: use `.contiguous().view(...)` or `.reshape(...)`."),
    (r"mat1 and mat2 shapes cannot be multiplied|size mismatch, got input|shapes \(.*\) and \(.*\) not aligned"
     r"|matmul: Input operand 1 has a mismatch",
     "the inner sizes of a matrix product differ: print the shapes of both sides. A weight of shape "
     "(n_out, n_in) multiplies as `x @ W.T`; attention scores are `q @ k.transpose(-2, -1)`."),
    (r"The size of tensor a \(\d+\) must match the size of tensor b \(\d+\)|operands could not be broadcast",
     "two tensors in an elementwise operation have shapes that do not broadcast: write down each "
     "operand's shape; a reduction may need `keepdim=True` (or `keepdims=True` in numpy)."),
    (r"Expected all tensors to be on the same device",
     "a tensor you made is on another device than the inputs: create new tensors with "
     "`device=x.device` (and `dtype=x.dtype`)."),
    (r"expected scalar type \w+ but found \w+|must have the same dtype|expected m1 and m2 to have the same dtype"
     r"|Found dtype \w+ but expected \w+",
     "two tensors have different dtypes: a numpy array becomes float64 in torch; build tensors with "
     "`dtype=x.dtype`, or convert with `.float()` / `.long()` where the exercise says which."),
    (r"Dimension out of range",
     "an axis number is too large for this tensor: count its dimensions (`x.dim()`); "
     "`dim=-1` is the last axis whatever the number of dimensions."),
    (r"element 0 of tensors does not require grad|does not have a grad_fn",
     "the loss is not connected to the parameters: a `.detach()`, `.item()`, `.numpy()` or "
     "`torch.no_grad()` on the way cuts the graph."),
    (r"Trying to backward through the graph a second time",
     "each training step must build a new graph: compute the loss again inside the loop, and do not "
     "reuse a tensor computed before it."),
    (r"index \d+ is out of bounds|index out of range in self",
     "an index is past the end: token ids must be < the vocabulary size, and positions < the block size."),
]

_COMPILED = [(re.compile(pattern), hint) for pattern, hint in HINTS]


def hint_for(error: str) -> str | None:
    """The course hint for an error's first line, or None."""
    first_line = error.split("\n", 1)[0]
    return next((hint for pattern, hint in _COMPILED if pattern.search(first_line)), None)
