"""The leaderboard a job stored (Job.leaderboard, written by the worker from the tuner's record): the rows
the job page and the report show, each candidate with its validation balanced accuracy and interval (method
auto's quick candidates also cross-validated over the training and validation images), queries and seconds, and
the sentences on why the adapter won and on a cheaper candidate that did as well."""
from __future__ import annotations

from webapp.core.templatetags.formatting import percent


def interval_text(interval) -> str:
    return f"{100 * interval[0]:.1f}–{percent(interval[1])}" if interval else "–"


def leaderboard_view(job) -> dict | None:
    """None for a job without one (older jobs, the no-query methods)."""
    board = job.leaderboard or {}
    if not board.get("entries"):
        return None
    rows = [{"key": e["key"], "label": e["label"], "balanced": e["val_balanced_acc"],
             "interval": interval_text(e.get("val_balanced_acc_interval")),
             "cv_balanced": e.get("cv_balanced_acc"), "cv_interval": interval_text(e.get("cv_balanced_acc_interval")),
             "queries": e["queries"],
             "seconds": e["seconds"], "chosen": e["key"] == board["chosen"],
             "warm_start": e["key"] == board.get("warm_start")} for e in board["entries"]]
    return {"rows": rows, "reason": board.get("reason", ""), "note": board.get("note"),
            "images": board["validation_images"], "auto": board.get("warm_start") is not None,
            "folds": board.get("folds"), "fold_images": board.get("fold_images")}
