import math

import torch


def sinusoidal_positional_encoding(max_len, d_model):
    # float32 throughout, frequencies via exp(-log(10000) * 2i / d), as many libraries write it
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)[:, : d_model // 2]
    return pe


def relative_shift_matrix(k, d_model):
    # block-diagonal from one 2x2 rotation per frequency
    if d_model % 2 != 0:
        raise ValueError("d_model must be even: the last sine would have no cosine partner")
    blocks = []
    for two_i in range(0, d_model, 2):
        a = k / 10000 ** (two_i / d_model)
        blocks.append(torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]]))
    return torch.block_diag(*blocks)


def rotary_embedding(x, positions, base=10000.0):
    # complex numbers: pair (x_2i, x_2i+1) is x_2i + j x_2i+1, a rotation is a product
    d = x.shape[-1]
    theta = 1.0 / base ** (torch.arange(0, d, 2).float() / d)
    angle = positions.float()[:, None] * theta
    z = torch.view_as_complex(x.float().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    rotated = z * torch.polar(torch.ones_like(angle), angle)
    return torch.view_as_real(rotated).reshape(x.shape).to(x.dtype)


def rotary_embedding_float32(x, positions, base=10000.0):
    # angles in float32, the rotation written out pair by pair, cast back to x's dtype at the end
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
    angle = positions.float()[:, None] * theta
    a, b = x[..., 0::2].float(), x[..., 1::2].float()
    rotated = torch.stack([a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()], dim=-1)
    return rotated.flatten(-2).to(x.dtype)


ALTERNATIVES = {
    "06.sinusoidal_positional_encoding": [sinusoidal_positional_encoding],
    "06.relative_shift_matrix": [relative_shift_matrix],
    "06.rotary_embedding": [rotary_embedding, rotary_embedding_float32],
}
