"""Refuse an oversized upload while it streams in, before Django spools it to a temporary file."""

import functools
from collections.abc import Callable

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.views.decorators.csrf import csrf_exempt, csrf_protect

FORM_FIELDS_SLACK = 64 * 1024  # the multipart envelope and the small form fields around the file


class UploadLimitHandler(FileUploadHandler):
    """First in the handler chain: counts file bytes and stops the upload past `limit`."""

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.too_large = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # The browser announces the size: refuse at once instead of reading a gigabyte first.
        self.too_large = bool(content_length) and content_length > self.limit + FORM_FIELDS_SLACK
        return None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.too_large:
            # connection_reset=False: the rest of the body is read and dropped (never stored), so the
            # form fields before the file (the CSRF token) still arrive and we can answer with a page.
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def limit_upload(limit: Callable[[], int]):
    """View decorator for a form with a file: installs an UploadLimitHandler of `limit()` bytes first in the
    chain before anything reads the body, then checks CSRF (which reads it) and calls the view with the
    handler as `limiter`, whose `too_large` the view turns into a page in words. (Django's CSRF middleware
    would read the body before the view runs: the view is exempt from it and protected here instead.)"""
    def decorate(view):
        protected = csrf_protect(view)

        @csrf_exempt
        @functools.wraps(view)
        def limited(request, *args, **kwargs):
            limiter = UploadLimitHandler(request, limit())
            request.upload_handlers.insert(0, limiter)
            return protected(request, *args, limiter=limiter, **kwargs)
        return limited
    return decorate
