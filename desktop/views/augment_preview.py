"""The augmentation preview (lecture §6): training images in the top row, augmented
versions below, from the config's pipeline with a fixed seed. Validation and test data
never pass through augmentation; the preview only ever shows training samples."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from desktop.views.base import View
from desktop.views.empty_state import IMAGE_DATASETS, EmptyState, apply_and_restart

if TYPE_CHECKING:
    from engine.augment.preview import AugmentPreview


def _preview(cfg, n: int, variants: int, seed: int) -> AugmentPreview:
    """The preview, on the job's thread (torch is imported there)."""
    from engine.augment.preview import make_preview

    return make_preview(cfg, n, variants, seed)


def _key(config) -> str:
    return config.data.model_dump_json() + config.augment.model_dump_json() + f"{config.seed}"


class AugmentPreviewView(View):
    """A grid: originals on top, `variants` augmented copies of each below."""

    title = "Augmentation"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.preview: AugmentPreview | None = None
        self.seed = 0
        self._key = ""
        self.info = QLabel("…")
        self.info.setWordWrap(True)
        self.variants = QSpinBox()
        self.variants.setRange(1, 8)
        self.variants.setValue(4)
        self.variants.setToolTip("Augmented copies of each image")
        self.variants.valueChanged.connect(lambda _v: self.refresh(force=True))
        self.n_images = QSpinBox()
        self.n_images.setRange(1, 16)
        self.n_images.setValue(8)
        self.n_images.setToolTip("Training images shown (one per class first)")
        self.n_images.valueChanged.connect(lambda _v: self.refresh(force=True))
        resample = QPushButton("New random draw")
        resample.setToolTip("Augment the same images with a new seed")
        resample.clicked.connect(self._on_resample_clicked)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("images"))
        bar.addWidget(self.n_images)
        bar.addWidget(QLabel("copies"))
        bar.addWidget(self.variants)
        bar.addWidget(resample)
        bar.addStretch(1)
        self.glw = pg.GraphicsLayoutWidget()
        self.plot = self.glw.addPlot()
        self.plot.setTitle("Top row: training images — below: augmented copies", size="10pt")
        self.plot.hideAxis("bottom")
        self.plot.hideAxis("left")
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.setMouseEnabled(False, False)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self.info)
        lay.addWidget(self.glw, 1)
        self.empty = EmptyState(self)
        self.follow_config()
        self.refresh()

    def _show_applies(self, config) -> bool:
        """Augmentation transforms images: on other data, say so and offer an image set."""
        name = config.data.name
        if name in IMAGE_DATASETS or name == "npz":
            self.empty.clear()
            return True
        self.empty.show_message(
            f"Augmentation applies to image data; '{name}' is not images.",
            "Switch to digits (8×8 images) and restart",
            lambda: apply_and_restart(self.controller, {"data.name": "digits"}),
        )
        return False

    def refresh(self, force: bool = False) -> None:
        cfg = self.controller.config
        if not self._show_applies(cfg):
            self._key = ""
            self.jobs.cancel(self.job_key)
            self.preview = None
            self.image.clear()
            self.info.setText(f"Augmentation applies to image data; '{cfg.data.name}' is not images.")
            return
        key = _key(cfg)
        if key == self._key and not force:
            return
        self._key = key
        n, v, seed = self.n_images.value(), self.variants.value(), self.seed
        self.start_job(lambda: _preview(cfg, n, v, seed), self._on_job_result, self._on_job_error)

    def _on_resample_clicked(self) -> None:
        self.seed += 1
        self.refresh(force=True)

    def on_run_started(self, run_id: str, config) -> None:
        self.refresh()

    def load_session(self, session) -> None:
        self.refresh()

    def _on_job_error(self, message: str) -> None:
        self.preview = None
        self.image.clear()
        self.info.setText(message)

    def _on_job_result(self, p: AugmentPreview) -> None:
        from engine.augment.preview import mosaic

        self.preview = p
        img = mosaic(p)
        self.image.setImage(np.ascontiguousarray(img.transpose(1, 0, 2)), autoLevels=False, levels=(0, 255))
        self.plot.autoRange(padding=0.02)
        cfg = self.controller.config.augment
        steps = [
            f"flip p={cfg.hflip_p:g}" if cfg.hflip_p else "",
            f"crop±{cfg.crop_padding}px p={cfg.crop_p:g}" if cfg.crop_p else "",
            f"rotate ±{cfg.rotate_degrees:g}°/scale ±{cfg.scale:g} p={cfg.affine_p:g}" if cfg.affine_p else "",
            f"jitter p={cfg.jitter_p:g}" if cfg.jitter_p else "",
            f"noise σ={cfg.noise_std:g} p={cfg.noise_p:g}" if cfg.noise_p else "",
        ]
        steps = [s for s in steps if s]
        classes = ", ".join(p.labels)
        if p.active:
            self.info.setText(
                f"Pipeline (in order): {' → '.join(steps)}. Classes: {classes}. "
                "Only training batches are augmented; validation and test data never are."
            )
        else:
            self.info.setText(
                f"Augmentation is off (every augment.*_p is 0): the copies equal the originals. Classes: {classes}."
            )
