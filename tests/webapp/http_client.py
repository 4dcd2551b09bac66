"""A minimal browser for tests against a real server: cookies, the CSRF token of forms, and a chosen
source address on loopback (127.0.0.2, 127.0.0.3, ...), so that one test can be several clients."""

from __future__ import annotations

import http.client
import re
import urllib.parse


class LoopbackClient:
    def __init__(self, port: int, source: str):
        self.port, self.source = port, source
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60, source_address=(self.source, 0))
        all_headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";")[0]
        return response.status, text

    def log_in(self, username: str, password: str, path: str = "/login/") -> int:
        """POSTs the login form (after GETting it for the CSRF token); the status: 302 is a login."""
        _, page = self.request("GET", path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, _ = self.request("POST", path, {"username": username, "password": password,
                                               "csrfmiddlewaretoken": token}, headers={"X-Forwarded-For": "10.9.9.9"})
        return status
