"""Counter-based randomness: every random value is a pure function of (seed, stream, key, draw).

A record's attributes never depend on how many other records were generated before it, so the
org generated up to day D+6 contains exactly the org generated up to day D+3, extended. That is
what makes time travel deterministic ("advance 3 days twice equals advance 6 days").
"""

from __future__ import annotations

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_DRAW = np.uint64(0xD1B54A32D192ED03)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


class Rand:
    """Vectorised draws keyed by record keys."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def _stream_base(self, stream: str) -> np.uint64:
        return np.uint64((zlib.crc32(stream.encode()) << 32) ^ (self.seed & 0xFFFFFFFF))

    def bits(self, stream: str, keys, draw: int = 0) -> np.ndarray:
        keys = np.asarray(keys).astype(np.uint64, copy=False)
        with np.errstate(over="ignore"):
            z = keys * _GOLDEN + self._stream_base(stream) + np.uint64(draw) * _DRAW
            return _mix(_mix(z))

    def uniform(self, stream: str, keys, draw: int = 0) -> np.ndarray:
        return (self.bits(stream, keys, draw) >> np.uint64(11)).astype(np.float64) * (2.0**-53)

    def normal(self, stream: str, keys, draw: int = 0) -> np.ndarray:
        u1 = np.maximum(self.uniform(stream, keys, 2 * draw), 1e-300)
        u2 = self.uniform(stream, keys, 2 * draw + 1)
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)

    def lognormal(self, stream: str, keys, median, sigma, draw: int = 0) -> np.ndarray:
        return np.asarray(median) * np.exp(sigma * self.normal(stream, keys, draw))

    def exponential(self, stream: str, keys, mean, draw: int = 0) -> np.ndarray:
        return -np.asarray(mean) * np.log1p(-self.uniform(stream, keys, draw))

    def choice(self, stream: str, keys, probs, draw: int = 0) -> np.ndarray:
        """Index into ``probs`` (1-D, shared) or per-row probabilities (2-D)."""
        probs = np.asarray(probs, dtype=float)
        u = self.uniform(stream, keys, draw)
        if probs.ndim == 1:
            cdf = np.cumsum(probs / probs.sum())
            return np.minimum(np.searchsorted(cdf, u, side="right"), len(probs) - 1)
        cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
        return np.minimum((u[:, None] >= cdf).sum(axis=1), probs.shape[1] - 1)

    def poisson(self, stream: str, keys, lam, draw: int = 0, cap: int = 200) -> np.ndarray:
        """Inverse-CDF Poisson, exact for small means, normal approximation above 50."""
        keys = np.asarray(keys)
        lam = np.broadcast_to(np.asarray(lam, dtype=float), keys.shape)
        u = self.uniform(stream, keys, draw)
        out = np.zeros(keys.shape, dtype=np.int64)
        small = lam <= 50
        if small.any():
            ls, us = lam[small], u[small]
            p = np.exp(-ls)
            cdf = p.copy()
            k = np.zeros(ls.shape, dtype=np.int64)
            for i in range(1, cap + 1):
                more = us > cdf
                if not more.any():
                    break
                k += more
                p = p * ls / i
                cdf = cdf + p
            out[small] = k
        if (~small).any():
            z = self.normal(stream + ":approx", keys[~small], draw)
            out[~small] = np.maximum(0, np.rint(lam[~small] + np.sqrt(lam[~small]) * z))
        return out

    def day_generator(self, stream: str, day: int) -> np.random.Generator:
        """A generator for one simulated day's counts: depends on the day, never on the horizon."""
        return np.random.default_rng([self.seed, zlib.crc32(stream.encode()), int(day)])
