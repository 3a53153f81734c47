"""Stateless seeding: every random stream is a pure function of (seed, purpose, index...).

A run never carries random-generator state from one iteration to the next; iteration
``i`` draws from generators seeded by ``derive_seed(seed, purpose, i)``. That is what
makes a resumed run bitwise identical to an uninterrupted one, and what lets several
processes agree on the patch order without talking to each other.
"""

from __future__ import annotations

import hashlib

import torch

_MASK = (1 << 63) - 1


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed derived from ``seed`` and ``parts`` (strings and integers) by BLAKE2b."""
    text = "\x1f".join(str(p) for p in (int(seed), *parts))
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & _MASK


def make_generator(seed: int, *parts: object, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` on ``device`` seeded by :func:`derive_seed`."""
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(derive_seed(seed, *parts))
    return generator
