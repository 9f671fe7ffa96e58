"""The client's cookie jar: aiohttp's per-request walk answered with nothing, gwsnb's own Cookie header."""

from __future__ import annotations

import asyncio

from yarl import URL

from gwsnb._wire.cookies import HeaderJar

BASE = URL("http://127.0.0.1:8090/api/v2/me")


def _jar() -> HeaderJar:
    async def make() -> HeaderJar:
        return HeaderJar(unsafe=True)  # aiohttp's jar wants a running loop when it is made

    return asyncio.run(make())


def test_the_header_follows_every_change_of_the_jar() -> None:
    jar = _jar()
    assert jar.header(BASE) == ""
    jar.update_cookies({"JSESSIONID": "one"}, BASE)
    assert jar.header(BASE) == "JSESSIONID=one"
    assert jar.header("http://127.0.0.1:8090/api/v2/me/outbound-records/7") == "JSESSIONID=one"
    jar.update_cookies({"JSESSIONID": "two", "BAYEUX_BROWSER": "b"}, BASE)
    assert jar.header(BASE) in ("JSESSIONID=two; BAYEUX_BROWSER=b", "BAYEUX_BROWSER=b; JSESSIONID=two")
    assert jar.matching(BASE) == {"JSESSIONID": "two", "BAYEUX_BROWSER": "b"}
    jar.clear()
    assert jar.header(BASE) == "" and jar.matching(BASE) == {}


def test_aiohttp_gets_no_cookie_to_send_itself() -> None:
    jar = _jar()
    jar.update_cookies({"JSESSIONID": "one"}, BASE)
    assert len(jar.filter_cookies(BASE)) == 0  # the header is gwsnb's: aiohttp must not add a second one
