"""The folder scan's results table: one row per file in the CSV, shown with the looks of the result panel.

Qt's model/view classes: `ScanResultsModel` holds the rows as they arrive, `ScanResultsFilter` sorts them
by their sort keys and narrows them to what the "Show" box asks for (`ROW_FILTERS`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor

from app.core.io.images import is_image_path
from app.core.io.listing import list_images
from app.core.model.scope import IN_SCOPE, NEAR_EDGE, NOT_XRAY, OUTSIDE_POPULATION
from app.core.numbers import probability_text
from app.core.scan.row import ScanRow
from app.ui.imaging import BADGE_STYLES
from app.ui.scope_looks import Look, flagged, look_of

COLUMNS = ("File", "Probability", "Result", "Status", "Details")
STATUS_MARK = {"ok": "\u2713 ok", "warning": "\u26a0 warning", "error": "\u00d7 error"}


def row_scope(row: ScanRow) -> str:
    """The row's scope; a row without one (a model without a scope check) is in scope, unless an older
    CSV marks it outside the domain, which then was the one "not a chest X-ray" state."""
    return row.scope or (NOT_XRAY if row.in_domain is False else IN_SCOPE)


def row_look(row: ScanRow) -> Look | None:
    """How the table shows the result (the CSV keeps the raw prediction and scope); None for an error row."""
    if row.status == "error":
        return None
    scope = row_scope(row)
    return look_of(row.prediction, scope, len(row.warnings) > (0 if scope == IN_SCOPE else 1))


def subfolders_with_images(folder: Path) -> int:
    """How many images lie in sub-folders of `folder` when it holds none itself (0 otherwise)."""
    try:
        if any(is_image_path(p) and p.is_file() for p in folder.iterdir()):
            return 0
        return len(list_images(folder, recursive=True))
    except OSError:
        return 0


class ScanResultsModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[ScanRow] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return row.path
            if column == 1:
                return "" if row.probability is None else probability_text(row.probability)
            if column == 2:
                look = row_look(row)
                return look.cell if look else ""
            if column == 3:
                return STATUS_MARK.get(row.status, row.status)
            if column == 4:
                return row.error or row.warning
        elif role == Qt.ItemDataRole.UserRole:  # sort keys
            if column == 1:
                return -1.0 if row.probability is None else row.probability
            if column == 3:
                return {"error": 0, "warning": 1, "ok": 2}.get(row.status, 3)
            return self.data(index, Qt.ItemDataRole.DisplayRole)
        elif role == Qt.ItemDataRole.ForegroundRole and column == 2:
            look = row_look(row)
            if look is not None and look.kind in BADGE_STYLES:
                return QBrush(QColor(BADGE_STYLES[look.kind][0]))
        elif role == Qt.ItemDataRole.ToolTipRole:
            return row.error or row.warning or row.path
        elif role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def clear(self) -> None:
        self.beginResetModel()
        self.rows = []
        self.endResetModel()

    def append(self, rows: list[ScanRow]) -> None:
        if not rows:
            return
        first = len(self.rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self.rows.extend(rows)
        self.endInsertRows()




# What the "Show" box can narrow the table to: a name and a test of one row.
ROW_FILTERS: dict[str, Callable[[ScanRow], bool]] = {
    "All results": lambda row: True,
    "Flagged PNEUMONIA": lambda row: row.status != "error" and flagged(row.prediction, row_scope(row)),
    "Not assessable": lambda row: row.status != "error" and row_scope(row) in (NOT_XRAY, OUTSIDE_POPULATION),
    "With warnings": lambda row: row.status == "warning",
    "Errors": lambda row: row.status == "error",
}


def summary_counts(rows: list[ScanRow]) -> str:
    """The counts the summary line gives, from the same looks the table shows."""
    errors = sum(r.status == "error" for r in rows)
    scopes = [row_scope(r) for r in rows if r.status != "error"]
    not_xray, outside, near = (scopes.count(s) for s in (NOT_XRAY, OUTSIDE_POPULATION, NEAR_EDGE))
    text = (f"{len(scopes)} scored, {sum(map(ROW_FILTERS['Flagged PNEUMONIA'], rows))} flagged PNEUMONIA"
            + (f" ({near} near the domain edge, label kept)" if near else "")
            + f", {sum(map(ROW_FILTERS['With warnings'], rows))} with warnings")
    if not_xray or outside:
        text += (f"; {not_xray + outside} not assessable, never counted as flagged ({outside} outside the "
                 f"model's population, {not_xray} not a chest X-ray)")
    return text + f"; {errors} error{'s' if errors != 1 else ''} (not scored)"


class ScanResultsFilter(QSortFilterProxyModel):
    """Sorts by the model's sort keys and shows the rows that the chosen filter accepts."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.accepts = ROW_FILTERS["All results"]
        self.setSortRole(Qt.ItemDataRole.UserRole)
        self.setDynamicSortFilter(True)

    def set_filter(self, name: str) -> None:
        self.accepts = ROW_FILTERS[name]
        self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        return bool(self.accepts(self.sourceModel().rows[source_row]))
