"""Animations to files: GIF through Pillow, MP4 (H.264) through imageio with imageio-ffmpeg's
own ffmpeg binary. Frames arrive one at a time (RGB uint8 arrays of one exact size) and go to
every requested file in one pass; each file is written under a temporary name and renamed when
complete, so a failed or cancelled animation leaves nothing behind.

Sizes stay exact: imageio-ffmpeg would round them up to multiples of 16 (macro_block_size=16),
here it is 1. H.264 in yuv420p needs an even width and height; an odd size is refused with a
message rather than changed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from types import TracebackType

import numpy as np

from engine.export.files import ExportError

VIDEO_FORMATS = ("gif", "mp4")


def check_video_size(formats: set[str] | list[str], width: int, height: int) -> None:
    """Raise ExportError when a size cannot be encoded exactly in one of the formats."""
    if not (16 <= width <= 4096 and 16 <= height <= 4096):
        raise ExportError(f"animation size {width}×{height}: between 16 and 4096 pixels a side")
    if "mp4" in formats and (width % 2 or height % 2):
        raise ExportError(f"MP4 (H.264) needs an even width and height, not {width}×{height}")


class AnimationWriter:
    """Writes one animation to `stem`.gif and/or `stem`.mp4. Use as a context manager: on an
    exception (a cancel included) the temporary files are removed and no target is touched."""

    def __init__(
        self,
        stem: str | os.PathLike,
        formats: list[str],
        fps: float,
        width: int,
        height: int,
        colors: list[tuple[int, int, int]] | None = None,
    ) -> None:
        """`colors`: RGB colours the GIF palette must hold exactly (a path's colour that the first
        frame, from which the palette is made, may not show yet)."""
        unknown = set(formats) - set(VIDEO_FORMATS)
        if unknown or not formats:
            raise ExportError(f"unknown animation format(s) {', '.join(sorted(unknown)) or '(none)'} (use gif, mp4)")
        if not 1 <= fps <= 60:
            raise ExportError(f"fps {fps:g}: between 1 and 60")
        check_video_size(formats, width, height)
        self.stem = Path(stem)
        self.formats = list(formats)
        self.fps = float(fps)
        self.size = (int(width), int(height))
        self.frames = 0
        self._tmp: dict[str, Path] = {}
        self._gif_frames: list = []
        self._palette = None
        self._colors = list(dict.fromkeys(colors or []))[:64]
        self._mp4 = None

    def targets(self) -> list[Path]:
        return [self.stem.with_name(f"{self.stem.name}.{f}") for f in self.formats]

    def __enter__(self) -> AnimationWriter:
        folder = self.stem.parent
        try:
            for f in self.formats:
                # the format's extension last: imageio picks its encoder by it; created with the
                # user's umask, like every other export
                tmp = folder / f".{self.stem.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp.{f}"
                tmp.open("xb").close()
                self._tmp[f] = tmp
        except OSError as e:
            self._cleanup()
            raise ExportError(f"{folder}: cannot write ({e.strerror or e})") from None
        if "mp4" in self._tmp:
            import imageio.v2 as imageio

            try:
                self._mp4 = self._open_mp4(imageio)
            except (OSError, RuntimeError, ValueError) as e:
                self._cleanup()
                raise ExportError(f"{self.stem}.mp4: cannot start the encoder ({e})") from None
        return self

    def _open_mp4(self, imageio):
        import imageio_ffmpeg

        # imageio's FFMPEG writer runs imageio-ffmpeg's bundled binary: a missing or broken one
        # is named here (RuntimeError) before any frame is drawn
        imageio_ffmpeg.get_ffmpeg_exe()
        return imageio.get_writer(
            str(self._tmp["mp4"]),
            format="FFMPEG",
            mode="I",
            fps=self.fps,
            codec="libx264",
            pixelformat="yuv420p",
            quality=8,
            macro_block_size=1,  # keep the exact size (the default rounds up to multiples of 16)
            ffmpeg_log_level="error",
            output_params=["-movflags", "+faststart"],
        )

    def add(self, frame: np.ndarray) -> None:
        """One RGB (h, w, 3) uint8 frame of exactly the writer's size."""
        frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
        if (frame.shape[1], frame.shape[0]) != self.size:
            raise ExportError(
                f"frame {frame.shape[1]}×{frame.shape[0]} is not the animation's {self.size[0]}×{self.size[1]}"
            )
        if "gif" in self._tmp:
            from PIL import Image

            # one palette for the whole animation, from the first frame (it shows the surface, the
            # legend's colours and the text): frames then differ only where something moved, and
            # Pillow stores just that rectangle. Kept as 1 byte per pixel until the file is written.
            img = Image.fromarray(frame, "RGB")
            if self._palette is None:
                self._palette = self._make_palette(img)
            self._gif_frames.append(img.quantize(palette=self._palette, dither=Image.Dither.NONE))
        if self._mp4 is not None:
            try:
                self._mp4.append_data(frame)
            except (OSError, RuntimeError) as e:
                raise ExportError(f"{self.stem}.mp4: the encoder failed ({e})") from None
        self.frames += 1

    def _make_palette(self, img):
        from PIL import Image

        base = img.quantize(colors=256 - len(self._colors), method=Image.Quantize.MEDIANCUT)
        used = len(base.getcolors(256) or []) or 256 - len(self._colors)
        rgb = (base.getpalette() or [])[: 3 * used]
        for c in self._colors:
            rgb += [int(v) for v in c]
        pal = Image.new("P", (1, 1))
        pal.putpalette(rgb + [0, 0, 0] * (256 - len(rgb) // 3))
        return pal

    def _finish(self) -> list[Path]:
        out = []
        try:
            if self._mp4 is not None:
                self._mp4.close()
                self._mp4 = None
            if "gif" in self._tmp and self._gif_frames:
                first, *rest = self._gif_frames
                first.save(
                    self._tmp["gif"],
                    format="GIF",
                    save_all=True,
                    append_images=rest,
                    duration=round(1000 / self.fps),
                    loop=0,
                    optimize=False,
                )
            for f, tmp in self._tmp.items():
                target = self.stem.with_name(f"{self.stem.name}.{f}")
                os.replace(tmp, target)
                out.append(target)
        except (OSError, RuntimeError) as e:
            raise ExportError(
                f"{self.stem}: cannot write the animation ({getattr(e, 'strerror', None) or e})"
            ) from None
        self._tmp = {}
        return out

    def _cleanup(self) -> None:
        if self._mp4 is not None:
            with contextlib.suppress(Exception):  # the encoder may already be broken; the file goes anyway
                self._mp4.close()
            self._mp4 = None
        for tmp in self._tmp.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._tmp = {}
        self._gif_frames = []

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self._cleanup()
            return
        if self.frames == 0:
            self._cleanup()
            raise ExportError(f"{self.stem}: no frames to write")
        try:
            self.written = self._finish()
        finally:
            self._cleanup()
