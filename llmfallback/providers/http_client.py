"""The httpx.Client every provider call goes through (built by transport.build_client)."""

from __future__ import annotations

import httpx


class _NoCookies(httpx.Cookies):
    """A jar that never keeps anything: see ProviderClient."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass

    def set_cookie_header(self, request: httpx.Request) -> None:
        pass


_NO_COOKIES = _NoCookies()  # empty for ever, so one instance serves every thread


class ProviderClient(httpx.Client):
    """httpx.Client without a cookie jar. Providers authenticate with keys, never cookies; one
    client serves every provider and every agent, so a cookie an edge proxy sets on one answer
    (Cloudflare's __cf_bm...) has no business riding along on later calls. Parsing Set-Cookie
    on every answer was also ~7 % of a chat call's CPU (bench/profile_v1.py)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, value) -> None:
        pass  # httpx.Client.__init__ sets it; nothing is ever kept
