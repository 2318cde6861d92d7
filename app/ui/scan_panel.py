"""Folder scan: choose a folder, a CSV and the model input's CLAHE, run the CLI's `ScanRequest` on the
engine thread, watch rows arrive in a sortable table, cancel between batches, open any row in the viewer."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.scan.folder import DEFAULT_BATCH_SIZE, ScanRequest, default_scan_csv
from app.core.scan.loop import ScanUpdate
from app.ui.engine import Engine, ScanEnd, ScanJob
from app.ui.scan_results import ROW_FILTERS, ScanResultsFilter, ScanResultsModel, subfolders_with_images, summary_counts

# The CLI's --clahe model|on|off: forcing CLAHE against the model card adds a warning to every row.
CLAHE_CHOICES = {"CLAHE as trained": None, "CLAHE on": True, "CLAHE off": False}

RESUME, REPLACE = "resume", "replace"  # what to do with an existing results file


class ScanPanel(QWidget):
    """Lives in the bottom dock of the main window."""

    open_requested = Signal(list, int)  # paths (in the table's order), index to show
    running_changed = Signal(bool)
    status_message = Signal(str)
    finished = Signal(object)  # ScanEnd

    def __init__(self, engine: Engine, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.settings = settings
        self.batch_size = DEFAULT_BATCH_SIZE  # the CLI's default: same batches, same CSV
        self._filtering = False  # the Show box is narrowing the table: rows move, nothing is opened
        self.job: ScanJob | None = None
        self._scanned_folder: Path | None = None
        self._resumed = 0  # rows of a resumed scan kept from the earlier run
        self._csv_edited = False
        self.last_end: ScanEnd | None = None

        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("Folder of X-rays to scan")
        self.folder_edit.setToolTip("The folder whose images are scanned (drop a folder on the window to fill it in)")
        self.folder_button = QPushButton("C&hoose\u2026")
        self.folder_button.setToolTip("Choose the folder to scan")
        self.csv_edit = QLineEdit()
        self.csv_edit.setPlaceholderText("Results CSV (default: FOLDER_pneumoscan.csv beside the folder)")
        self.csv_edit.setToolTip("Where the results are written, one row per file (an existing file can be resumed)")
        self.csv_button = QPushButton("Save &as\u2026")
        self.csv_button.setToolTip("Choose where the results CSV is written")
        self.recursive_check = QCheckBox("Include s&ub-folders")
        self.recursive_check.setToolTip("Scan the images in every sub-folder too (pneumoscan-cli scan --recursive)")
        self.clahe_combo = QComboBox()
        self.clahe_combo.addItems(list(CLAHE_CHOICES))
        self.clahe_combo.setToolTip("The model's input: as the model card says (as trained), or CLAHE forced on or off "
                                    "(pneumoscan-cli scan --clahe model|on|off); a forced choice warns on every row")
        self.start_button = QPushButton("Start scan")
        self.start_button.setDefault(True)
        self.start_button.setToolTip("Scan the folder into the CSV (F5)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop after the current batch; the CSV keeps every finished row (Shift+F5)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)  # the count is the label beside it, never over the bar's fill
        self.progress_label = QLabel("")
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_csv_button = QPushButton("Open CSV")
        self.open_csv_button.setEnabled(False)
        self.open_csv_button.setToolTip("Open the results CSV in the program the system uses for CSV files")

        self.model = ScanResultsModel(self)
        self.proxy = ScanResultsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.show_combo = QComboBox()
        self.show_combo.addItems(list(ROW_FILTERS))
        self.show_combo.setToolTip("Show only some of the results (the CSV keeps them all)")
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # file order until the user sorts
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setToolTip("Click a row (or move to it with the arrow keys) to open its image")
        # File takes what the columns sized to their content leave; Details (mostly empty) stays narrow,
        # its full text in the tooltip, so the file names are not cut to "PNEUMONIA/..." on a laptop
        header = self.table.horizontalHeader()
        metrics = self.table.fontMetrics()
        widest = {1: ("Probability",), 2: ("\u25b2 PNEUMONIA \u00b7 near edge", "\u2205 not a chest X-ray"),
                  3: ("\u26a0 warning",), 4: ("Details",)}
        for column, texts in widest.items():
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, max(metrics.horizontalAdvance(t) for t in texts) + 24)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)  # a wrapped "PNEUMONIA/" line would hide the name: one line, elided in the middle

        form = QGridLayout()
        form.addWidget(QLabel("Folder"), 0, 0)
        form.addWidget(self.folder_edit, 0, 1)
        form.addWidget(self.folder_button, 0, 2)
        options = QHBoxLayout()
        options.addWidget(self.recursive_check)
        options.addWidget(self.clahe_combo)
        form.addLayout(options, 0, 3)
        form.addWidget(QLabel("Results CSV"), 1, 0)
        form.addWidget(self.csv_edit, 1, 1)
        form.addWidget(self.csv_button, 1, 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        form.addLayout(buttons, 1, 3)
        form.setColumnStretch(1, 1)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label)
        summary_row = QHBoxLayout()
        summary_row.addWidget(self.summary_label, 1)
        show_label = QLabel("&Show")
        show_label.setBuddy(self.show_combo)
        summary_row.addWidget(show_label)
        summary_row.addWidget(self.show_combo)
        summary_row.addWidget(self.open_csv_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(form)
        layout.addLayout(progress_row)
        layout.addLayout(summary_row)
        layout.addWidget(self.table, 1)

        self.folder_button.clicked.connect(self.choose_folder)
        self.csv_button.clicked.connect(self.choose_csv)
        self.folder_edit.textEdited.connect(self._folder_edited)
        self.csv_edit.textEdited.connect(lambda _t: setattr(self, "_csv_edited", True))
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_csv_button.clicked.connect(self._open_csv)
        self.show_combo.currentTextChanged.connect(self._set_filter)
        self.table.activated.connect(self._open_row)
        self.table.clicked.connect(self._open_row)
        # arrow keys in the table open the row they land on, too
        self.table.selectionModel().currentRowChanged.connect(lambda current, _previous: self._open_row(current))
        self.engine.scan_progress.connect(self._on_progress)
        self.engine.scan_finished.connect(self._on_finished)
        self.engine.scan_failed.connect(self._on_failed)

        self.recursive_check.setChecked(settings.value("scan/recursive", False, type=bool))
        self.recursive_check.toggled.connect(lambda on: self.settings.setValue("scan/recursive", on))
        self.clahe_combo.setCurrentText(settings.value("scan/clahe", next(iter(CLAHE_CHOICES)), type=str))
        self.clahe_combo.currentTextChanged.connect(lambda text: self.settings.setValue("scan/clahe", text))
        folder = settings.value("scan/folder", "", type=str)
        if folder:
            self.set_folder(Path(folder))

    # --- inputs --------------------------------------------------------------------------------
    def ask_include_subfolders(self, folder: Path, count: int) -> bool:
        """Asked when `folder` holds no image itself but its sub-folders hold `count`. Tests replace this method."""
        answer = QMessageBox.question(
            self, "Include sub-folders?",
            f"{folder.name} holds no images itself, but its sub-folders hold {count}.\n\nInclude the sub-folders in the scan?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def offer_subfolders(self, folder: Path) -> None:
        """A folder of class sub-folders with "Include sub-folders" off would scan nothing: offer to include them."""
        if self.recursive_check.isChecked():
            return
        count = subfolders_with_images(Path(folder))
        if count and self.ask_include_subfolders(Path(folder), count):
            self.recursive_check.setChecked(True)

    def offer(self, folder: Path) -> None:
        """Ready to scan `folder` (unless a scan is running): the user checks the CSV and presses Start."""
        if not self.running:
            self.set_folder(folder)
            self.offer_subfolders(folder)

    def set_folder(self, folder: Path, csv: Path | None = None) -> None:
        self.folder_edit.setText(str(folder))
        if csv is not None:
            self.csv_edit.setText(str(csv))
            self._csv_edited = True
        else:
            self._csv_edited = False
            self.csv_edit.setText(str(default_scan_csv(Path(folder))))

    def _folder_edited(self, text: str) -> None:
        if not self._csv_edited and text.strip():
            self.csv_edit.setText(str(default_scan_csv(Path(text.strip()))))

    def choose_folder(self) -> None:
        start = self.folder_edit.text() or self.settings.value("paths/last_folder", "", type=str)
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of X-rays to scan", start)
        if folder:
            self.set_folder(Path(folder))
            self.offer_subfolders(Path(folder))

    def choose_csv(self) -> None:
        start = self.csv_edit.text() or str(Path.home() / "pneumoscan.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Save the scan results as", start, "CSV files (*.csv)")
        if path:
            self.csv_edit.setText(path)
            self._csv_edited = True

    def ask_existing(self, csv: Path) -> str | None:
        """Asked when the CSV exists: RESUME, REPLACE or None (do not scan). Tests replace this method."""
        box = QMessageBox(QMessageBox.Icon.Question, "Results file exists",
                          f"{csv} already exists.", QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText("Resume keeps its finished rows and scans only the files not in it yet "
                               "(files with an error row are tried again). Replace scans every file again "
                               "and overwrites it.")
        resume = box.addButton("Resume", QMessageBox.ButtonRole.AcceptRole)
        replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(resume)
        box.exec()
        return {resume: RESUME, replace: REPLACE}.get(box.clickedButton())

    # --- run -----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None

    def start(self) -> bool:
        if self.running:
            return False
        text = self.folder_edit.text().strip()
        if not text:
            self._fail("Choose a folder to scan first.")
            return False
        folder = Path(text).expanduser()
        if not folder.is_dir():
            self._fail(f"Not a folder: {folder}")
            return False
        csv_text = self.csv_edit.text().strip()
        csv = Path(csv_text).expanduser() if csv_text else default_scan_csv(folder)
        choice = self.ask_existing(csv) if csv.exists() else REPLACE
        if choice is None:
            return False
        self.settings.setValue("scan/folder", str(folder))
        self.settings.setValue("scan/recursive", self.recursive_check.isChecked())
        request = ScanRequest(folder, csv, self.recursive_check.isChecked(), resume=choice == RESUME,
                              overwrite=choice == REPLACE, clahe=CLAHE_CHOICES[self.clahe_combo.currentText()],
                              batch_size=self.batch_size)
        self.job = ScanJob(request)
        self._scanned_folder = folder
        self._resumed = 0
        self.last_end = None
        self.model.clear()
        self.progress.setRange(0, 0)  # busy until the first batch says how many files there are
        self.progress_label.setText("Starting\u2026" if self.engine.ready else "Waiting for the model\u2026")
        self.summary_label.setText(f"Writing {csv}")
        self.summary_label.setStyleSheet("")
        self.open_csv_button.setEnabled(False)
        self._set_running(True)
        self.engine.start_scan(self.job)
        self.status_message.emit(f"Scanning {folder}\u2026")
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel.set()  # the engine thread stops before the next batch
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling after the current batch\u2026")

    def _set_running(self, running: bool) -> None:
        for widget in (self.start_button, self.folder_edit, self.folder_button, self.csv_edit, self.csv_button,
                       self.recursive_check, self.clahe_combo):
            widget.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.running_changed.emit(running)

    def _on_progress(self, job: ScanJob, update: ScanUpdate) -> None:
        if job is not self.job:
            return
        self._resumed += len(update.resumed)
        self.model.append(list(update.resumed) + update.rows)
        self.progress.setRange(0, max(1, update.total))
        self.progress.setValue(update.done)
        if not job.cancel.is_set():
            self.progress_label.setText(f"{update.done} / {update.total} images \u00b7 "
                                        f"{update.images_per_second:.1f} images/s")

    def _on_finished(self, end: ScanEnd) -> None:
        if end.job is not self.job:
            return
        self.job = None
        self.last_end = end
        self._set_running(False)
        rows = self.model.rows
        self.progress.setRange(0, max(1, end.total))
        self.progress.setValue(end.done)
        rate = end.done / end.elapsed_s if end.elapsed_s > 0 else 0.0
        self.progress_label.setText(f"Cancelled at {end.done} / {end.total}" if end.cancelled
                                    else f"{end.done} / {end.total} images \u00b7 {rate:.1f} images/s")
        self.summary_label.setStyleSheet("color: #8a5a00;" if end.cancelled else "")  # stopped, not running
        if end.cancelled and end.total == 0:
            text = "Cancelled before the first batch: no image was scanned"
            self.summary_label.setText(f"{text}; {end.job.out_csv} was not written.")
        elif end.total == 0 and not self.recursive_check.isChecked() and subfolders_with_images(self._scanned_folder):
            text = "No images in this folder itself; its sub-folders hold some: tick \u201cInclude sub-folders\u201d"
            self.summary_label.setText(f"{text} and scan again.")
        else:
            head = (f"Cancelled after {end.done} of {end.total} files" if end.cancelled
                    else f"Done: {len(rows)} files")
            if self._resumed:
                head += f" ({self._resumed} kept from the earlier scan)"
            text = f"{head}: {summary_counts(rows)}"
            self.summary_label.setText(f"{text}. Results: {end.job.out_csv}")
        self.open_csv_button.setEnabled(end.job.out_csv.exists())
        self.status_message.emit(text)
        self.finished.emit(end)

    def _on_failed(self, job: ScanJob, message: str) -> None:
        if job is not self.job:
            return
        self.job = None
        self._set_running(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_label.setText("")
        self._fail(f"The scan could not run: {message}")

    def _fail(self, message: str) -> None:
        self.summary_label.setText(message)
        self.summary_label.setStyleSheet("color: #b71c1c;")
        self.status_message.emit(message)

    # --- results -------------------------------------------------------------------------------
    def _set_filter(self, name: str) -> None:
        """Narrow the table; the file in the viewer stays open even if its row is no longer shown."""
        self._filtering = True
        try:
            self.proxy.set_filter(name)
        finally:
            self._filtering = False

    def _open_row(self, index: QModelIndex) -> None:
        if self._scanned_folder is None or not index.isValid() or self._filtering:
            return
        paths = [self._scanned_folder / self.model.rows[self.proxy.mapToSource(self.proxy.index(r, 0)).row()].path
                 for r in range(self.proxy.rowCount())]
        self.open_requested.emit(paths, index.row())

    def _open_csv(self) -> None:
        if self.last_end is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.last_end.job.out_csv)))
