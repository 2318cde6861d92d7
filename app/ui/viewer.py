"""The image viewer: full-resolution pixels, wheel zoom around the cursor, drag to pan, fit and 1:1,
right-drag for window/level (the window applies it: see `app.ui.levels`).

It shows two layers: the grayscale image and, above it, the coloured heat map at an opacity. Qt blends
them while painting, at screen resolution, so the opacity slider costs nothing per step; `composite()`
renders the same blend at full resolution (what `overlay` in the engine computes). Text in the corners
(identity, window/level, the heat map's caption: `app.ui.annotations`) is painted over the viewport;
a highlight frame shows when the view has the keyboard focus (the arrow keys then pan a zoomed image).
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPen, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from app.ui.annotations import Annotations, paint_annotations

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
STEP = 1.25
HINT = "Drop an X-ray here or press Ctrl+O"
MIN_IMAGE_AREA = QSize(420, 280)  # the docks may shrink the view on a laptop screen, never below this


class ImageViewer(QGraphicsView):
    zoom_changed = Signal(float)  # scale factor (1.0 = one image pixel per screen pixel)
    levels_dragged = Signal(int, int)  # right-drag since the last event: dx (window), dy (level) in pixels

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self._scene.addItem(self._item)
        self._heat_item = QGraphicsPixmapItem(self._item)  # a child: it follows the image's geometry
        self._heat_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._heat_item.setVisible(False)
        self.setScene(self._scene)
        self._image: QImage | None = None
        self._heat: QImage | None = None
        self._pixmaps: dict[int, QPixmap] = {}  # by QImage.cacheKey(): the current file's layers, made once
        self._fit = True
        self._message = HINT
        self._transient_key: int | None = None  # a window/level layer: one at a time, not cached
        self._drag_from: QPoint | None = None
        self.annotations = Annotations()
        self.setMinimumSize(MIN_IMAGE_AREA)
        self.setBackgroundBrush(QColor("#1e1e1e"))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        # the corner texts are drawn in viewport coordinates: a scrolled (blitted) viewport would smear them
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # zoom_by anchors itself
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # drops go to the main window, which knows what to do with files and folders
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)
        self.setAccessibleName("X-ray image")

    # --- content -------------------------------------------------------------------------------
    @property
    def image(self) -> QImage | None:
        """The grayscale layer on screen (plain or CLAHE, full resolution), None when empty."""
        return self._image

    @property
    def heat(self) -> QImage | None:
        """The heat map layer on screen, None when Grad-CAM is off or not computed yet."""
        return self._heat

    def has_image(self) -> bool:
        return self._image is not None

    def _pixmap(self, image: QImage) -> QPixmap:
        key = image.cacheKey()
        if key not in self._pixmaps:
            self._pixmaps[key] = QPixmap.fromImage(image)
        return self._pixmaps[key]

    def set_image(self, image: QImage, reset_view: bool = False, transient: bool = False) -> None:
        """Show `image`; keep zoom and pan unless `reset_view` (a new file) or the size changed.

        `transient`: a layer made for this moment only (window/level); it replaces the previous one.
        """
        if reset_view:
            self._pixmaps.clear()  # the previous file's layers
        if self._transient_key is not None and self._transient_key != image.cacheKey():
            self._pixmaps.pop(self._transient_key, None)
        self._transient_key = image.cacheKey() if transient else None
        size_changed = self._image is None or self._image.size() != image.size()
        self._image = image
        self._item.setPixmap(self._pixmap(image))
        self._item.setVisible(True)
        self._scene.setSceneRect(QRectF(self._item.boundingRect()))
        if reset_view or size_changed:
            self.fit()
        self.viewport().update()

    def set_overlay(self, heat: QImage | None, opacity: float) -> None:
        """Blend `heat` (the image's geometry, at its size or smaller) over it at `opacity`; None hides it."""
        if self._heat is not None and heat is not None and heat.cacheKey() != self._heat.cacheKey():
            self._pixmaps.pop(self._heat.cacheKey(), None)  # a new explanation replaces the old map
        self._heat = heat
        if heat is not None:
            self._heat_item.setPixmap(self._pixmap(heat))
            if self._image is not None:  # a reduced layer is stretched over the whole image
                self._heat_item.setTransform(QTransform.fromScale(self._image.width() / heat.width(),
                                                                  self._image.height() / heat.height()))
            self._heat_item.setOpacity(min(1.0, max(0.0, opacity)))
        self._heat_item.setVisible(heat is not None)
        self.viewport().update()

    def set_annotations(self, annotations: Annotations) -> None:
        if annotations != self.annotations:
            self.annotations = annotations
            self.viewport().update()

    def composite(self, annotations: Annotations | None = None) -> QImage | None:
        """The layers as shown, blended at full resolution (RGB); `annotations` drawn in, if given."""
        if self._image is None:
            return None
        result = QImage(self._image.size(), QImage.Format.Format_RGB32)
        painter = QPainter(result)
        painter.drawImage(0, 0, self._image)
        if self._heat is not None:
            painter.setOpacity(self._heat_item.opacity())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(QRectF(result.rect()), self._heat)
        if annotations is not None:
            painter.setOpacity(1.0)
            paint_annotations(painter, result.rect(), annotations, max(12, result.height() // 60))
        painter.end()
        return result

    def clear(self, message: str = HINT) -> None:
        self._image, self._heat = None, None
        self._pixmaps.clear()
        self._item.setPixmap(QPixmap())
        self._item.setVisible(False)
        self._heat_item.setVisible(False)
        self._message = message
        self.annotations = Annotations()
        self._scene.setSceneRect(QRectF(0, 0, 1, 1))  # no scroll bars left from the last image
        self.resetTransform()
        self._fit = True
        self.zoom_changed.emit(0.0)  # no image: no zoom to show
        self.viewport().update()

    # --- zoom ----------------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Scale by `factor`, keeping the image point under `anchor` (viewport coordinates) in place."""
        if not self.has_image():
            return
        current = self.zoom()
        target = min(MAX_ZOOM, max(MIN_ZOOM, current * factor))
        if abs(target - current) < 1e-9:
            return
        self._fit = False
        point = anchor if anchor is not None else QPointF(self.viewport().rect().center())
        scene_point = self.mapToScene(point.toPoint())
        self.scale(target / current, target / current)
        moved = self.mapFromScene(scene_point) - point.toPoint()  # scroll it back under the anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self.zoom_changed.emit(self.zoom())

    def zoom_in(self) -> None:
        self.zoom_by(STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / STEP)

    def fit(self) -> None:
        self._fit = True
        if self.has_image():
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom())

    def actual_size(self) -> None:
        if not self.has_image():
            return
        self._fit = False
        anchor = self.mapToScene(self.viewport().rect().center())
        self.resetTransform()
        self.centerOn(anchor)
        self.zoom_changed.emit(self.zoom())

    @property
    def fitted(self) -> bool:
        return self._fit

    # --- events --------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.RightButton and self.has_image():
            self._drag_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.SizeAllCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            point = event.position().toPoint()
            delta, self._drag_from = point - self._drag_from, point
            self.levels_dragged.emit(delta.x(), delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.RightButton and self._drag_from is not None:
            self._drag_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)  # the pan cursor again
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if delta == 0 or not self.has_image():
            return super().wheelEvent(event)
        self.zoom_by(STEP ** (delta / 120.0), event.position())  # the point under the cursor stays still
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        if self._fit and self.has_image():
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
            self.zoom_changed.emit(self.zoom())

    def focusInEvent(self, event) -> None:  # noqa: ANN001
        super().focusInEvent(event)
        self.viewport().update()  # the focus frame

    def focusOutEvent(self, event) -> None:  # noqa: ANN001
        super().focusOutEvent(event)
        self.viewport().update()

    def paintEvent(self, event) -> None:  # noqa: ANN001
        super().paintEvent(event)
        if self.has_image():
            painter = QPainter(self.viewport())
            paint_annotations(painter, self.viewport().rect(), self.annotations, max(11, self.fontMetrics().height() - 2))
            if self.hasFocus():
                painter.setPen(QPen(self.palette().highlight().color(), 3))
                painter.drawRect(self.viewport().rect().adjusted(1, 1, -2, -2))
            painter.end()
            return
        if not self._message:
            return
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.viewport().rect().adjusted(40, 40, -40, -40)
        pen = painter.pen()
        pen.setColor(QColor("#6f6f6f"))
        pen.setStyle(Qt.PenStyle.DashLine)
        pen.setWidth(2)
        painter.setPen(pen)
        painter.drawRoundedRect(rect, 12, 12)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        painter.setFont(font)
        painter.setPen(QColor("#c8c8c8"))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self._message)
        painter.end()
