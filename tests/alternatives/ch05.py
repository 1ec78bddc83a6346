import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def build_vocab(text):
    # itos as a list: indexing by id works the same as with a dict
    itos = sorted({c for c in text})
    return {c: itos.index(c) for c in itos}, itos


def encode(text, stoi):
    unknown = [c for c in text if c not in stoi]
    if unknown:
        raise ValueError(f"unknown characters: {unknown}")
    return list(map(stoi.__getitem__, text))


def decode(ids, itos):
    # a range check instead of a lookup: works for an itos dict {0: ..} and list alike
    out = []
    for i in list(ids):
        i = int(i)
        if not 0 <= i < len(itos):
            raise ValueError(f"unknown id: {i}")
        out.append(itos[i])
    return "".join(out)


def decode_via_list(ids, itos):
    # itos as a list of characters, with the range check that keeps -1 from reading the last one
    chars = [itos[i] for i in range(len(itos))]
    ids = [int(i) for i in ids]
    bad = [i for i in ids if not 0 <= i < len(chars)]
    if bad:
        raise KeyError(f"ids not in the vocabulary: {bad}")
    return "".join(chars[i] for i in ids)


def get_batch(data, batch_size, block_size, generator):
    # one start per row, then gather all windows with one advanced index
    starts = torch.randint(0, data.numel() - block_size, (batch_size, 1), generator=generator)
    offsets = torch.arange(block_size)
    return data[starts + offsets], data[starts + offsets + 1]


def embedding_lookup(E, ids):
    return F.one_hot(ids, E.shape[0]).to(E.dtype) @ E


def embedding_lookup_flat(E, ids):
    # flatten any shape S, pick rows, restore S
    return E.index_select(0, ids.reshape(-1)).reshape(*ids.shape, E.shape[1])


def bigram_counts_loop(ids, vocab_size):
    # the loop a learner writes first, with the integer dtype the docstring asks for
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.int64)
    for a, b in zip(ids[:-1].tolist(), ids[1:].tolist()):
        counts[a, b] += 1
    return counts


def bigram_counts(ids, vocab_size):
    # one-hot of current (n-1, V) transposed times one-hot of next (n-1, V)
    current = F.one_hot(ids[:-1], vocab_size).T.float()
    nxt = F.one_hot(ids[1:], vocab_size).float()
    return (current @ nxt).long()


def bigram_nll(counts, ids, smoothing=1.0):
    c = counts.numpy().astype(np.float64) + smoothing
    logp = np.log(c) - np.log(c.sum(axis=1, keepdims=True))
    a, b = ids[:-1].numpy(), ids[1:].numpy()
    return float(-logp[a, b].sum() / len(a))


def bigram_nll_log_softmax(counts, ids, smoothing=1.0):
    # log-probabilities by log_softmax of the log smoothed counts; float() makes the Python float
    logp = torch.log_softmax(torch.log(counts.double() + smoothing), dim=1)
    return float(-logp[ids[:-1], ids[1:]].mean())


class BigramLM(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, idx, targets=None):
        logits = self.token_embedding_table(idx)
        loss = None
        if targets is not None:
            # classes in dim 1, as F.cross_entropy expects for (N, C, d1) inputs
            loss = F.cross_entropy(logits.transpose(1, 2), targets)
        return logits, loss


ALTERNATIVES = {
    "05.build_vocab": [build_vocab],
    "05.encode": [encode],
    "05.decode": [decode, decode_via_list],
    "05.get_batch": [get_batch],
    "05.embedding_lookup": [embedding_lookup, embedding_lookup_flat],
    "05.bigram_counts": [bigram_counts, bigram_counts_loop],
    "05.bigram_nll": [bigram_nll, bigram_nll_log_softmax],
    "05.BigramLM": [BigramLM],
}
