"""A minimal client for meridiand's JSON API (docs/api.md): one keep-alive
HTTP/1.1 connection, bearer token, JSON in and out. Standard library only."""

import http.client
import json
import select
import urllib.parse


class ApiError(RuntimeError):
    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status  # the HTTP status that was not in `ok`


class Client:
    def __init__(self, url, token_file, timeout=30.0):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        with open(token_file) as f:
            self.token = f.read().strip()
        self.timeout = timeout
        self.conn = None
        self._pending = None

    def _connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def call(self, method, path, body=None, ok=(200, 201, 204)):
        """Sends one request on the kept-alive connection (reconnecting once
        if the server closed it meanwhile); returns (status, parsed body or
        None). A status outside `ok` raises ApiError with the problem text."""
        data, headers = self._encode(body)
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        return self._parse(method, path, response, raw, ok)

    def _encode(self, body):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return data, headers

    @staticmethod
    def _parse(method, path, response, raw, ok):
        parsed = json.loads(raw) if raw else None
        if response.status not in ok:
            raise ApiError(f"{method} {path}: {response.status} {raw[:300]!r}", response.status)
        return response.status, parsed

    def send(self, method, path, body=None):
        """Sends a request without waiting for its answer (tools/bench cluster
        polls DNS meanwhile); finish() reads it. No reconnect: call() first so
        the connection is open. readable() says whether the answer is there."""
        data, headers = self._encode(body)
        self._connection().request(method, path, body=data, headers=headers)
        self._pending = (method, path)

    def readable(self):
        sock = self.conn.sock if self.conn is not None else None
        return sock is not None and bool(select.select([sock], [], [], 0)[0])

    def finish(self, ok=(200, 201, 204)):
        """The answer to send()'s request, as call() returns it."""
        method, path = self._pending
        response = self.conn.getresponse()
        return self._parse(method, path, response, response.read(), ok)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
