"""A CSV file streamed row by row, so a long table never sits whole in the web process's memory."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.http import StreamingHttpResponse


class _Echo:
    """csv.writer needs a file; this one hands each formatted line back instead of storing it."""

    def write(self, value):
        return value


def csv_download(header: Iterable, rows: Iterable[Iterable], *, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
