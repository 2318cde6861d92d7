"""Folder scan from the GUI: same CSV as the CLI, one table row per file, cooperative cancel."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.core.scan.folder import ScanRequest
from app.core.scan.row import CSV_COLUMNS
from tests.ui.conftest import NORMAL_SAMPLE, SAMPLES

TIMEOUT = 60_000


def test_gui_scan_writes_the_same_csv_as_the_cli(window, qtbot, scan_folder_small: Path, tmp_path: Path,  # noqa: ANN001
                                                   test_model_path: Path) -> None:
    from app.cli import main as cli_main

    panel = window.scan_panel
    gui_csv, cli_csv = tmp_path / "gui.csv", tmp_path / "cli.csv"
    window.offer_scan(scan_folder_small)
    panel.csv_edit.setText(str(gui_csv))
    with qtbot.waitSignal(panel.finished, timeout=TIMEOUT) as blocker:
        panel.start_button.click()
        assert panel.running and panel.cancel_button.isEnabled() and not panel.start_button.isEnabled()
    end = blocker.args[0]
    assert not end.cancelled and end.done == end.total == 5
    assert panel.proxy.rowCount() == 5
    summary = panel.summary_label.text()
    assert "Done: 5 files: 4 scored" in summary and "1 error (not scored)" in summary
    assert not panel.running and panel.start_button.isEnabled()

    # exit status 1: the folder holds an unreadable file (an error row)
    assert cli_main(["scan", str(scan_folder_small), "--out", str(cli_csv), "--model", str(test_model_path)]) == 1
    assert gui_csv.read_bytes() == cli_csv.read_bytes()

    # sortable by probability; the error row (no probability) sorts first ascending
    panel.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert panel.proxy.index(0, 3).data().endswith("error")
    # clicking a row opens that image in the viewer
    row = next(r for r in range(panel.proxy.rowCount()) if panel.proxy.index(r, 0).data() == NORMAL_SAMPLE.name)
    with qtbot.waitSignal(window.prediction_shown, timeout=TIMEOUT):
        panel.table.clicked.emit(panel.proxy.index(row, 0))
    assert window.current_path == scan_folder_small / NORMAL_SAMPLE.name


def test_cancel_stops_the_scan_and_leaves_a_valid_csv(window, qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(8):
        shutil.copy(NORMAL_SAMPLE, folder / f"img_{i:02d}.jpeg")
    out = tmp_path / "cancelled.csv"
    panel = window.scan_panel
    panel.batch_size = 1
    panel.set_folder(folder, out)
    # Cancel as soon as the first batch is done, on the engine thread itself, so it lands mid-scan
    # deterministically (the Cancel button sets the same flag from the GUI thread).
    start = ScanRequest.start

    def cancel_after_the_first_batch(request: ScanRequest, screener: object):  # noqa: ANN202
        batches = start(request, screener)
        try:
            for update in batches:
                panel.job.cancel.set()
                yield update
        finally:
            batches.close()

    monkeypatch.setattr(ScanRequest, "start", cancel_after_the_first_batch)
    with qtbot.waitSignal(panel.finished, timeout=TIMEOUT) as blocker:
        assert panel.start()
    end = blocker.args[0]
    assert end.cancelled
    assert end.done == 1 < end.total == 8
    assert "Cancelled after 1 of 8" in panel.summary_label.text()
    with open(out, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert tuple(reader.fieldnames) == CSV_COLUMNS
    assert [r["path"] for r in rows] == ["img_00.jpeg"]
    assert rows[0]["status"] in ("ok", "warning")
    assert panel.proxy.rowCount() == 1
    assert not window.engine.scanning


def test_cancel_button_sets_the_flag(window, qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    panel = window.scan_panel
    panel.batch_size = 1
    panel.set_folder(SAMPLES, tmp_path / "s.csv")
    with qtbot.waitSignal(panel.finished, timeout=TIMEOUT):
        panel.start()
        job = panel.job
        panel.cancel_button.click()
        assert job.cancel.is_set()
        assert "Cancelling" in panel.progress_label.text()
    end = panel.last_end
    assert end.cancelled and end.done < 4
    out = tmp_path / "s.csv"
    if end.done:  # the flag was seen after a batch: its rows are in the CSV
        assert out.read_text(encoding="utf-8").startswith("path,status,")
    else:  # cancelled before the first batch: nothing was written
        assert "no image was scanned" in panel.summary_label.text()
    assert not window.engine.scanning and panel.start_button.isEnabled()


def test_scan_of_a_missing_folder_reports_an_error(window) -> None:  # noqa: ANN001
    panel = window.scan_panel
    panel.folder_edit.setText("/nonexistent/folder")
    assert not panel.start()
    assert "Not a folder" in panel.summary_label.text()
    assert not panel.running


def test_an_image_opened_during_a_scan_is_predicted_between_batches(window, qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(6):
        shutil.copy(NORMAL_SAMPLE, folder / f"img_{i:02d}.jpeg")
    panel = window.scan_panel
    panel.batch_size = 1
    panel.set_folder(folder, tmp_path / "during.csv")
    with qtbot.waitSignal(panel.finished, timeout=TIMEOUT) as finished, \
            qtbot.waitSignal(window.prediction_shown, timeout=TIMEOUT):
        assert panel.start()
        window.open_paths([SAMPLES / "PNEUMONIA_person1003_virus_1685.jpeg"])
    assert not finished.args[0].cancelled
    assert len((tmp_path / "during.csv").read_text(encoding="utf-8").splitlines()) == 1 + 6
    assert window.prediction is not None


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _scan_small_folder(window, qtbot, folder: Path, out: Path) -> list[dict[str, str]]:  # noqa: ANN001
    """Scan `folder` from the panel into `out` and return the CSV's rows."""
    panel = window.scan_panel
    panel.set_folder(folder, out)
    with qtbot.waitSignal(panel.finished, timeout=TIMEOUT):
        assert panel.start()
    return _rows(out)


def test_an_existing_csv_can_be_resumed_replaced_or_left_alone(window, qtbot, scan_folder_small: Path,  # noqa: ANN001
                                                             tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from app.ui.scan_panel import REPLACE, RESUME

    panel = window.scan_panel
    out = tmp_path / "results.csv"
    complete = _scan_small_folder(window, qtbot, scan_folder_small, out)
    assert len(complete) == 5
    # an earlier scan that stopped after two files, one of them the unreadable one
    earlier = [r for r in complete if r["status"] == "error"] + [r for r in complete if r["status"] != "error"][:1]
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(earlier)
    shortened = out.read_bytes()

    monkeypatch.setattr(panel, "ask_existing", lambda _csv: None)
    assert not panel.start() and not panel.running
    assert out.read_bytes() == shortened  # left alone

    monkeypatch.setattr(panel, "ask_existing", lambda _csv: RESUME)
    with qtbot.waitSignal(panel.finished, timeout=TIMEOUT) as blocker:
        assert panel.start()
    end = blocker.args[0]
    assert end.done == end.total == 4  # three new files and the one with an error row, tried again
    resumed = _rows(out)
    assert sorted(r["path"] for r in resumed) == sorted(r["path"] for r in complete)
    assert sorted(map(tuple, (r.values() for r in resumed))) == sorted(map(tuple, (r.values() for r in complete)))
    assert panel.proxy.rowCount() == 5  # the kept row is in the table too
    assert "(1 kept from the earlier scan)" in panel.summary_label.text()

    monkeypatch.setattr(panel, "ask_existing", lambda _csv: REPLACE)
    with qtbot.waitSignal(panel.finished, timeout=TIMEOUT) as blocker:
        assert panel.start()
    assert blocker.args[0].done == 5 and _rows(out) == complete  # every file again, in sorted order
    assert "kept from the earlier scan" not in panel.summary_label.text()


def test_show_box_narrows_the_table_and_the_csv_keeps_everything(window, qtbot, scan_folder_small: Path,  # noqa: ANN001
                                                                 tmp_path: Path) -> None:
    from app.ui.scan_results import ROW_FILTERS

    panel = window.scan_panel
    out = tmp_path / "all.csv"
    rows = _scan_small_folder(window, qtbot, scan_folder_small, out)
    shown = {}
    for name in ROW_FILTERS:
        panel.show_combo.setCurrentText(name)
        shown[name] = sorted(panel.proxy.index(r, 0).data() for r in range(panel.proxy.rowCount()))
    assert shown["All results"] == sorted(r["path"] for r in rows)
    assert shown["Errors"] == ["broken.jpeg"]
    assert shown["Flagged PNEUMONIA"] == sorted(r["path"] for r in rows if r["prediction"] == "PNEUMONIA")
    assert shown["With warnings"] == sorted(r["path"] for r in rows if r["status"] == "warning")
    panel.show_combo.setCurrentText("Errors")
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT):  # a click opens the row shown: the broken file
        panel.table.clicked.emit(panel.proxy.index(0, 0))
    assert window.current_path == scan_folder_small / "broken.jpeg"
    assert window.session.paths == [scan_folder_small / "broken.jpeg"]  # stepping stays within the rows shown
    assert len(_rows(out)) == 5


def test_show_box_never_changes_the_open_file(window, qtbot, scan_folder_small: Path, tmp_path: Path) -> None:  # noqa: ANN001
    panel = window.scan_panel
    _scan_small_folder(window, qtbot, scan_folder_small, tmp_path / "all.csv")
    with qtbot.waitSignal(window.image_shown, timeout=TIMEOUT):
        panel.table.selectRow(1)  # the current row opens in the viewer (an X-ray, not the broken file)
    opened, listed = window.current_path, list(window.session.paths)
    requests = window.session.load_request
    for name in ("Errors", "Flagged PNEUMONIA", "With warnings", "All results"):
        panel.show_combo.setCurrentText(name)
        qtbot.wait(50)
        assert window.current_path == opened and window.session.load_request == requests
    assert window.session.paths == listed


def test_scan_table_columns_fit_a_laptop_screen(make_window, test_screener) -> None:  # noqa: ANN001
    window = make_window(screener=test_screener, size=(1024, 640))
    window.scan_dock.show()
    QApplication.processEvents()
    table = window.scan_panel.table
    header = table.horizontalHeader()
    right = header.sectionViewportPosition(4) + header.sectionSize(4)
    assert right <= table.viewport().width()  # the Details column ends inside the table
    assert min(header.sectionSize(c) for c in range(5)) >= 60


def test_gui_scan_offers_the_clis_clahe_choice(window, qtbot, scan_folder_small: Path, tmp_path: Path,  # noqa: ANN001
                                               test_model_path: Path, gui_settings) -> None:  # noqa: ANN001
    """CLAHE forced on from the GUI gives the CSV of `scan --clahe on`, and the choice is remembered."""
    from app.cli import main as cli_main

    panel = window.scan_panel
    gui_csv, cli_csv = tmp_path / "gui.csv", tmp_path / "cli.csv"
    panel.set_folder(scan_folder_small, gui_csv)
    panel.clahe_combo.setCurrentText("CLAHE on")
    with qtbot.waitSignal(panel.finished, timeout=TIMEOUT):
        assert panel.start()
    assert panel.job is None and gui_settings.value("scan/clahe") == "CLAHE on"
    assert cli_main(["scan", str(scan_folder_small), "--out", str(cli_csv), "--model", str(test_model_path),
                     "--clahe", "on"]) == 1
    assert gui_csv.read_bytes() == cli_csv.read_bytes()
    with open(gui_csv, newline="", encoding="utf-8") as handle:
        scored = [row for row in csv.DictReader(handle) if row["status"] != "error"]
    assert scored and all("CLAHE forced on" in row["warning"] for row in scored)


def test_gui_scan_refuses_to_replace_an_unrelated_csv(window, qtbot, scan_folder_small: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """The CLI's refusals apply to the GUI's Replace too: a CSV that is not a results file is left alone."""
    panel = window.scan_panel
    notes = tmp_path / "notes.csv"
    notes.write_text("name,phone\nAda,123\n", encoding="utf-8")
    panel.set_folder(scan_folder_small, notes)
    panel.ask_existing = lambda _csv: "replace"
    with qtbot.waitSignal(window.engine.scan_failed, timeout=TIMEOUT) as blocker:
        assert panel.start()
    assert "not a PneumoScan results file" in blocker.args[1]
    assert notes.read_text(encoding="utf-8") == "name,phone\nAda,123\n" and not panel.running
