"""A pyqtgraph 3D view that renders offscreen, with a cached static layer.

Why not `pyqtgraph.opengl.GLViewWidget`: it is a QOpenGLWidget, and a window holding a
QOpenGLWidget is composed with OpenGL on every flush — any change anywhere in the window
(a label, a plot) re-composes and swaps the whole window, which under Xvfb with Mesa's
llvmpipe is CPU work proportional to the window's size, on every frame.
This widget is a plain QWidget: it renders the same pyqtgraph GL items into a framebuffer
object of its own context (shared with Qt's global share context, so pyqtgraph's
per-process shader programs work), reads the pixels back and paints them with
QPainter; the window stays a raster window that flushes only what changed.

Static layer: items passed to `set_static_items` (a big surface mesh) are rendered into a
cache framebuffer (colour + depth) only when the camera, the size or the items change
(`invalidate_static()`); every other frame blits the cache's colour and depth into the
frame and draws only the moving items on top, depth-tested against the cached surface
where their GL options ask for it. Under llvmpipe a 200×200 surface (80k triangles) is
many times dearer to draw than the blit (tests/benchmarks/bench_playground.py --frames
counts the surface's redraws and times the frames).

Mouse and wheel camera control, items, `paint()`, `readQImage()`/`renderToArray()` come
from pyqtgraph's GLViewMixin unchanged.
"""

from __future__ import annotations

import numpy as np
from OpenGL import GL
from pyqtgraph.opengl.GLViewWidget import GLViewMixin
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QImage, QOffscreenSurface, QOpenGLContext, QPainter, QSurfaceFormat
from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat
from PySide6.QtWidgets import QWidget


class GLContextError(RuntimeError):
    """No OpenGL context could be created for offscreen rendering."""


class OffscreenGLView(GLViewMixin, QWidget):
    """A GLViewWidget look-alike drawn from an offscreen framebuffer (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # every pixel is painted
        self._ctx: QOpenGLContext | None = None
        self._surface: QOffscreenSurface | None = None
        self._initialized = False
        self._error = ""
        self._fbo: QOpenGLFramebufferObject | None = None  # the frame (maybe multisampled)
        self._resolve: QOpenGLFramebufferObject | None = None  # single-sampled copy to read back
        self._cache: QOpenGLFramebufferObject | None = None  # the static layer
        self._static: list = []
        self._static_key: tuple | None = None
        self._draw_pass = "all"  # all | static | dynamic
        self._pixels: np.ndarray | None = None
        self._image: QImage | None = None
        self._scene_dirty = True
        self.static_renders = 0  # how often the static layer was drawn
        self.frames_rendered = 0

    @property
    def error_text(self) -> str:
        """Why the view cannot draw ('' while it can): shown in the view in place of the scene."""
        return self._error

    # -- the GL context ------------------------------------------------------------------
    def _ensure_context(self) -> bool:
        if self._ctx is not None:
            return True
        if self._error:
            return False
        ctx = QOpenGLContext()
        share = QOpenGLContext.globalShareContext()
        if share is not None:
            ctx.setShareContext(share)
        ctx.setFormat(share.format() if share is not None else QSurfaceFormat.defaultFormat())
        if not ctx.create():
            self._error = "cannot create an OpenGL context"
            return False
        surface = QOffscreenSurface(self.screen())
        surface.setFormat(ctx.format())
        surface.create()
        if not surface.isValid() or not ctx.makeCurrent(surface):
            self._error = "cannot make the offscreen OpenGL surface current"
            return False
        self._ctx, self._surface = ctx, surface
        return True

    def context(self) -> QOpenGLContext | None:  # GLViewMixin.initializeGL asks for it
        return self._ctx

    def isValid(self) -> bool:
        return self._initialized

    def makeCurrent(self) -> bool:
        return self._ensure_context() and self._ctx.makeCurrent(self._surface)

    def doneCurrent(self) -> None:
        if self._ctx is not None:
            self._ctx.doneCurrent()

    def addItem(self, item) -> None:
        if self._initialized:
            self.makeCurrent()
        super().addItem(item)

    def update(self, *args) -> None:
        """Items call this when they change: the next paint renders a new frame."""
        self._scene_dirty = True
        QWidget.update(self, *args)

    # -- static layer --------------------------------------------------------------------
    def set_static_items(self, items: list) -> None:
        """Items drawn once into the cache and blitted back while camera, size and items stay.
        Anything that calls a static item's update() (setData, setVisible, setGLOptions,
        a transform) redraws the cache; their child items are not watched."""
        for it in self._static:
            it.__dict__.pop("update", None)
        self._static = list(items)
        for it in self._static:
            it.update = self.invalidate_static  # an instance attribute shadows GLGraphicsItem.update
        self.invalidate_static()

    def removeItem(self, item) -> None:
        if item in self._static:
            self.set_static_items([x for x in self._static if x is not item])
        super().removeItem(item)

    def invalidate_static(self) -> None:
        """The static items changed: draw them again at the next frame."""
        self._static_key = None
        self.update()

    def _camera_key(self, w: int, h: int) -> tuple:
        o = self.opts
        rot = o.get("rotation")
        return (
            w,
            h,
            tuple(self.viewMatrix().data()),
            o["fov"],
            o["distance"],
            o["bgcolor"],
            None if rot is None else (rot.scalar(), rot.x(), rot.y(), rot.z()),
        )

    def drawItemTree(self, item=None, useItemNames: bool = False) -> None:
        if item is not None or self._draw_pass == "all" or not self._static:
            super().drawItemTree(item, useItemNames=useItemNames)
            return
        # top level of a static or dynamic pass: draw only that pass's items (and their children)
        want_static = self._draw_pass == "static"
        top = [x for x in self.items if x.parentItem() is None and (x in self._static) == want_static]
        top.sort(key=lambda a: a.depthValue())
        for i in top:
            if not i.visible():
                continue
            self._modelViewStack.append(self.currentModelView() * i.transform())
            try:
                super().drawItemTree(i, useItemNames=useItemNames)
            finally:
                self._modelViewStack.pop()

    # -- rendering -----------------------------------------------------------------------
    def _fbo_format(self, samples: int) -> QOpenGLFramebufferObjectFormat:
        f = QOpenGLFramebufferObjectFormat()
        f.setAttachment(QOpenGLFramebufferObject.Attachment.CombinedDepthStencil)
        f.setSamples(samples)
        return f

    def _ensure_fbos(self, w: int, h: int) -> None:
        if self._fbo is not None and self._fbo.width() == w and self._fbo.height() == h:
            return
        samples = max(0, self._ctx.format().samples())
        self._fbo = QOpenGLFramebufferObject(w, h, self._fbo_format(samples))
        self._cache = QOpenGLFramebufferObject(w, h, self._fbo_format(samples))
        self._resolve = QOpenGLFramebufferObject(w, h, self._fbo_format(0)) if samples > 0 else None
        self._pixels = np.empty((h, w, 4), dtype=np.uint8)
        self._static_key = None

    def render_frame(self) -> QImage | None:
        """Render the scene into the framebuffer and read it back (bottom-up rows, see paintEvent)."""
        if not self.makeCurrent():
            return None
        if not self._initialized:
            self._initialized = True
            self.initializeGL()
        w, h = max(1, self.deviceWidth()), max(1, self.deviceHeight())
        self._ensure_fbos(w, h)
        region = (0, 0, w, h)
        if self._static:
            key = self._camera_key(w, h)
            if key != self._static_key:
                self._cache.bind()
                GL.glViewport(0, 0, w, h)
                self._draw_pass = "static"
                try:
                    self.paint(region=region, viewport=region)  # clears, then the static items
                finally:
                    self._draw_pass = "all"
                self._static_key = key
                self.static_renders += 1
            QOpenGLFramebufferObject.blitFramebuffer(
                self._fbo,
                QRect(0, 0, w, h),
                self._cache,
                QRect(0, 0, w, h),
                GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT,
                GL.GL_NEAREST,
            )
            self._fbo.bind()
            GL.glViewport(0, 0, w, h)
            self.setProjection(region, region)
            self.setModelview()
            self._draw_pass = "dynamic"
            try:
                self.drawItemTree()
            finally:
                self._draw_pass = "all"
        else:
            self._fbo.bind()
            GL.glViewport(0, 0, w, h)
            self.paint(region=region, viewport=region)
        src = self._fbo
        if self._resolve is not None:
            QOpenGLFramebufferObject.blitFramebuffer(
                self._resolve, QRect(0, 0, w, h), self._fbo, QRect(0, 0, w, h), GL.GL_COLOR_BUFFER_BIT, GL.GL_NEAREST
            )
            src = self._resolve
        src.bind()
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 4)
        GL.glReadPixels(0, 0, w, h, GL.GL_BGRA, GL.GL_UNSIGNED_BYTE, self._pixels)
        src.release()
        # BGRA bytes are ARGB32 on little-endian machines; RGB32 ignores the alpha the
        # blended lines leave below 1 (the frame is opaque, as a QOpenGLWidget's is)
        self._image = QImage(self._pixels.data, w, h, 4 * w, QImage.Format.Format_RGB32)
        self._image.setDevicePixelRatio(self.devicePixelRatioF())
        self._scene_dirty = False
        self.frames_rendered += 1
        return self._image

    def paintEvent(self, event) -> None:
        stale = (
            self._scene_dirty
            or self._image is None
            or self._image.width() != max(1, self.deviceWidth())
            or self._image.height() != max(1, self.deviceHeight())
        )
        if stale and not self._error:
            try:
                self.render_frame()
            except Exception as e:  # noqa: BLE001 - a broken GL driver: say so in the view, once
                self._error = f"{type(e).__name__}: {e}"
                self._image = None
        p = QPainter(self)
        if self._image is None:
            p.fillRect(self.rect(), Qt.GlobalColor.white)
            p.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter, f"3D view unavailable: {self.error_text or 'no OpenGL'}"
            )
        else:
            # GL rows run bottom-up: draw the image flipped instead of copying it flipped
            p.translate(0, self.height())
            p.scale(1, -1)
            p.drawImage(QRectF(0, 0, self.width(), self.height()), self._image)
        p.end()

    def grabFramebuffer(self) -> QImage:
        """The current frame as a top-down QImage (a copy)."""
        img = self.render_frame()
        if img is None:
            return QImage()
        return img.flipped(Qt.Orientation.Vertical) if hasattr(img, "flipped") else img.mirrored(False, True)

    def resizeEvent(self, event) -> None:
        self._scene_dirty = True
        super().resizeEvent(event)
