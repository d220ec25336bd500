"""A seeded, batched augmentation pipeline: flip → crop (pad + shift) → rotate/scale →
brightness/contrast jitter → Gaussian noise, each applied to a sample with its own
probability. Random numbers come from the augmenter's own torch.Generator on the run's
device (same seed, same augmented batches; the global RNG is untouched); the geometric
warps are kornia's. Only training batches pass through it: validation and test data never do.
"""

from __future__ import annotations

import torch
from kornia.geometry.transform import get_rotation_matrix2d, translate, warp_affine

from engine.config import AugmentConfig

IMAGE_ONLY = ("hflip_p", "crop_p", "affine_p", "jitter_p")


def is_active(cfg: AugmentConfig) -> bool:
    """True when any augmentation has a non-zero probability."""
    return any(getattr(cfg, k) > 0 for k in (*IMAGE_ONLY, "noise_p"))


class Augmenter:
    """Callable on a flat batch (N, F): views it as images (N, C, H, W), returns it flat."""

    def __init__(
        self,
        cfg: AugmentConfig,
        input_shape: tuple[int, ...],
        value_range: tuple[float, float],
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> None:
        self.cfg = cfg
        self.input_shape = tuple(input_shape)
        self.is_image = len(self.input_shape) == 3
        lo, hi = float(value_range[0]), float(value_range[1])
        self.lo, self.hi = lo, hi
        self.span = max(hi - lo, 1e-12)
        self.device = torch.device(device)
        self.seed = seed
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        # Steps that cannot apply to non-image data are listed (the trainer tells the user).
        self.ignored = [k for k in IMAGE_ONLY if getattr(cfg, k) > 0] if not self.is_image else []

    def reset(self, seed: int | None = None) -> None:
        self.generator.manual_seed(self.seed if seed is None else seed)

    def _u(self, n: int, a: float = 0.0, b: float = 1.0) -> torch.Tensor:
        return torch.rand(n, generator=self.generator, device=self.device) * (b - a) + a

    def _mask(self, n: int, p: float) -> torch.Tensor:
        return self._u(n) < p

    @torch.no_grad()
    def __call__(self, xb: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        n = xb.shape[0]
        if not self.is_image:
            if c.noise_p <= 0:
                return xb
            return self._noise(xb, n)
        x = xb.reshape(n, *self.input_shape)

        def col(m: torch.Tensor) -> torch.Tensor:  # one flag per image, broadcast over its pixels
            return m.view(n, 1, 1, 1)

        if c.hflip_p > 0:
            x = torch.where(col(self._mask(n, c.hflip_p)), x.flip(-1), x)
        if c.crop_p > 0:
            # Random crop of the zero-padded image = an integer shift in [-pad, pad].
            pad = c.crop_padding
            shift = torch.randint(-pad, pad + 1, (n, 2), generator=self.generator, device=self.device).to(x.dtype)
            shift = shift * self._mask(n, c.crop_p).to(x.dtype)[:, None]
            x = translate(x, shift, mode="nearest", padding_mode="zeros", align_corners=True)
        if c.affine_p > 0:
            m = self._mask(n, c.affine_p).to(x.dtype)
            angle = self._u(n, -c.rotate_degrees, c.rotate_degrees) * m
            s = 1.0 + self._u(n, -c.scale, c.scale) * m
            h, w = x.shape[-2:]
            center = torch.tensor([[(w - 1) / 2.0, (h - 1) / 2.0]], device=self.device, dtype=x.dtype).expand(n, 2)
            mat = get_rotation_matrix2d(center, angle, torch.stack([s, s], 1))
            warped = warp_affine(x, mat, dsize=(h, w), mode="bilinear", padding_mode="zeros", align_corners=True)
            x = torch.where(col(m > 0), warped, x)
        if c.jitter_p > 0:
            m = self._mask(n, c.jitter_p).to(x.dtype)
            shift = self._u(n, -c.brightness, c.brightness) * self.span * m
            factor = 1.0 + self._u(n, -c.contrast, c.contrast) * m
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = ((x - mean) * col(factor) + mean + col(shift)).clamp(self.lo, self.hi)
        x = x.reshape(n, -1)
        if c.noise_p > 0:
            x = self._noise(x, n)
        return x

    def _noise(self, x: torch.Tensor, n: int) -> torch.Tensor:
        m = self._mask(n, self.cfg.noise_p).to(x.dtype)[:, None]
        eps = torch.randn(x.shape, generator=self.generator, device=self.device, dtype=x.dtype)
        return (x + eps * (self.cfg.noise_std * self.span) * m).clamp(self.lo, self.hi)

    def preview(self, x: torch.Tensor, variants: int, seed: int | None = None) -> torch.Tensor:
        """`variants` augmented copies of each sample of x (n, F) → (variants, n, F), seeded."""
        gen_state = self.generator.get_state()
        self.reset(seed)
        try:
            return torch.stack([self(x) for _ in range(variants)])
        finally:
            self.generator.set_state(gen_state)


def build_augmenter(
    cfg: AugmentConfig,
    input_shape: tuple[int, ...],
    value_range: tuple[float, float],
    device: torch.device | str,
    seed: int,
) -> Augmenter | None:
    """The run's augmenter, or None when every probability is zero (no per-step cost)."""
    if not is_active(cfg):
        return None
    return Augmenter(cfg, input_shape, value_range, device, seed)
