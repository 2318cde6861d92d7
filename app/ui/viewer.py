"""The image viewer: full-resolution pixels, wheel zoom around the cursor, drag to pan, fit and 1:1."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
STEP = 1.25
HINT = "Drop an X-ray here or press Ctrl+O"


class ImageViewer(QGraphicsView):
    zoom_changed = Signal(float)  # scale factor (1.0 = one image pixel per screen pixel)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self._scene.addItem(self._item)
        self.setScene(self._scene)
        self._image: QImage | None = None
        self._fit = True
        self._message = HINT
        self.setBackgroundBrush(QColor("#1e1e1e"))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
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
        """The QImage on screen (the full-resolution composite), None when empty."""
        return self._image

    def has_image(self) -> bool:
        return self._image is not None

    def set_image(self, image: QImage, reset_view: bool = False) -> None:
        """Show `image`; keep zoom and pan unless `reset_view` (a new file) or the size changed."""
        size_changed = self._image is None or self._image.size() != image.size()
        self._image = image
        self._item.setPixmap(QPixmap.fromImage(image))
        self._item.setVisible(True)
        self._scene.setSceneRect(QRectF(self._item.boundingRect()))
        if reset_view or size_changed:
            self.fit()
        self.viewport().update()

    def clear(self, message: str = HINT) -> None:
        self._image = None
        self._item.setPixmap(QPixmap())
        self._item.setVisible(False)
        self._message = message
        self.resetTransform()
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

    def paintEvent(self, event) -> None:  # noqa: ANN001
        super().paintEvent(event)
        if self.has_image() or not self._message:
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
