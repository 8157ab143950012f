"""WooCommerce's REST transport: Basic auth and its documented fallbacks, routes, pages.

- Auth is HTTP Basic with the consumer key and secret over HTTPS. Some servers drop the
  Authorization header; Woo then answers 401 as if no credentials came, and the key goes in
  the query string (Woo's documented fallback) for the rest of the run. Woo reads the key,
  from either place, only when WordPress sees the request as HTTPS (`is_ssl()` in
  WC_REST_Authentication::authenticate, class-wc-rest-authentication.php): when the fallback
  is refused too, or Woo calls the key invalid, the key is sent in no further request, least
  of all in a URL, and the message says what to check.
- Sites on plain permalinks have no `/wp-json/` (WordPress answers its HTML 404 page); the
  same routes answer at `/?rest_route=/wc/v3/...`, used from the first such 404 on.
- Writes go through a session without transient retries: an absolute write re-sent after a
  5xx or a timeout could overwrite a sale, so the caller re-reads first (research section 8).
- Every request holds a place in the host's adaptive limit (`limit.py`) while it is out, its
  retries included; its answers, refusals and retries grow or cut that limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from omnisync.channels.woocommerce.limit import AdaptiveLimit, Ticket, kind_of
from omnisync.errors import ChannelAuthError, ChannelResponseError, ChannelUnavailableError
from omnisync.httpclient import Budget, ChannelHttp, RetryPolicy
from omnisync.payload import Payload

if TYPE_CHECKING:
    from omnisync.channels.woocommerce.channel import WooCommerceSettings

log = logging.getLogger("omnisync.channels.woocommerce")

PAGE = 100  # WordPress's maximum per_page
P = TypeVar("P", bound=Payload)

# Woo's answers to a request that arrived without credentials (the header was dropped).
_NO_CREDENTIALS = (
    "woocommerce_rest_cannot_view",
    "woocommerce_rest_cannot_create",
    "woocommerce_rest_cannot_edit",
    "woocommerce_rest_cannot_batch",
    "woocommerce_rest_authentication_missing",
)

# What to check when WooCommerce refuses the key (research section 8; Woo's
# class-wc-rest-authentication.php reads the key, from the header or the query string, only
# when `is_ssl()`: behind a proxy that ends TLS, WordPress must be told the request was HTTPS).
AUTH_CHECKS = (
    "check that WordPress sees the requests as HTTPS (behind a proxy or load balancer that "
    "ends TLS it must get X-Forwarded-Proto: https and honour it, e.g. in wp-config.php), "
    "and that [channels.{name}] key and secret are a REST API key with Read/Write "
    "permissions (WooCommerce → Settings → Advanced → REST API)"
)


class WooRest:
    """One shop's REST API for one run: what was learned about auth and routes is kept."""

    def __init__(
        self,
        name: str,
        settings: WooCommerceSettings,
        root: str,
        *,
        budget: Budget,
        client: httpx.AsyncClient | None,
        policy: RetryPolicy | None,
        connections: int,
    ) -> None:
        self.name = name
        self.settings = settings
        self.root = root
        # Requests in flight at once, across every walk and write: the listings and the
        # orders are read side by side, and the host's workers are shared by all of them.
        self.limit = AdaptiveLimit(ceiling=connections)
        self.api = f"{root}/wp-json/wc/v3"
        self.http = ChannelHttp(
            name,
            budget=budget,
            client=client,
            policy=policy,
            credential_hint=f"the REST API consumer key and secret in [channels.{name}] key "
            f"and secret: a key with Read/Write permissions (WooCommerce → Settings → "
            f"Advanced → REST API), sent over HTTPS that WordPress sees as HTTPS",
            auth=httpx.BasicAuth(settings.key.reveal(), settings.secret.reveal()),
            connections=connections,
        )
        self.write_http = ChannelHttp(
            name,
            budget=budget,
            client=self.http.client,
            # A write is never sent twice by the HTTP layer, not even after a 429: a sale may
            # land while it waits, and only a re-read before the next try can see it (the
            # push re-reads and writes again, `WooChannel._push_batch`).
            policy=replace(self.http.policy, attempts=1, throttle_attempts=0),
            credential_hint=self.http.credential_hint,
            auth=self.http.auth,
        )
        self.query_auth = False
        self.header_works = False
        self.refused = False  # the key was refused: it goes in no further request
        self.plain_permalinks = False  # routes via ?rest_route= instead of /wp-json/

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json_body: Any = None,
        context: str,
        write: bool = False,
        ticket: Ticket | None = None,
    ) -> httpx.Response:
        """One request to `path` under /wc/v3, with the auth fallbacks; `write` sends it
        without transient retries (the caller re-reads before writing again). It waits for a
        place in the host's limit, unless the caller holds one (`ticket`), and tells the limit
        how the host answered."""
        place: contextlib.AbstractAsyncContextManager[Ticket] = (
            contextlib.nullcontext(ticket) if ticket is not None else self.limit.slot()
        )
        async with place as held:
            try:
                response = await self._send(method, path, params, json_body, context, write, held)
            except ChannelUnavailableError:
                self.limit.overloaded(held)
                raise
            self.limit.answered(held, kind_of(method, path))
            return response

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str | int] | None,
        json_body: Any,
        context: str,
        write: bool,
        ticket: Ticket,
    ) -> httpx.Response:
        http = self.write_http if write else self.http
        if self.refused:
            raise ChannelAuthError(
                self.name, f"{context}: not sent: the shop refused the key earlier in this run"
            )
        # What this request is sent with: requests run side by side, and another may learn
        # the fallback while this one is out; its answer is judged by how it was sent.
        by_query = self.query_auth
        try:
            response = await self._route(http, method, path, params, json_body, context, ticket)
        except ChannelAuthError as exc:
            # Once the header has worked, a refusal is about permissions, not a lost header.
            credentials_missing = exc.http_status == 401 and exc.code in _NO_CREDENTIALS
            if by_query or self.header_works or not credentials_missing:
                raise self._auth_failure(exc, context) from None
        else:
            self.header_works = self.header_works or not by_query
            return response
        # The server dropped the Authorization header: Woo's documented fallback, tried once.
        if not self.query_auth:
            log.info(
                "%s: Basic auth header not received by the shop; using query parameters",
                self.name,
            )
        self.query_auth = True
        try:
            return await self._route(http, method, path, params, json_body, context, ticket)
        except ChannelAuthError as exc:
            raise self._auth_failure(exc, context, both=True) from None

    def _auth_failure(
        self, exc: ChannelAuthError, context: str, *, both: bool = False
    ) -> ChannelAuthError:
        """The error for a refusal; a refused key (401) is never sent again, least of all in
        a URL (proxies and servers log those)."""
        if exc.http_status != 401:
            return exc  # 403: a known key whose user may not do this
        self.refused, self.query_auth = True, False
        if not both:
            return exc
        return ChannelAuthError(
            self.name,
            f"{context}: {self._refusal()}",
            http_status=exc.http_status,
            code=exc.code,
        )

    def _refusal(self) -> str:
        return (
            "WooCommerce accepted the key neither in the Authorization header nor in the "
            "query string: " + AUTH_CHECKS.format(name=self.name)
        )

    async def _route(
        self,
        http: ChannelHttp,
        method: str,
        path: str,
        params: dict[str, str | int] | None,
        json_body: Any,
        context: str,
        ticket: Ticket,
    ) -> httpx.Response:
        query = dict(params or {})
        if self.query_auth:
            query |= self._auth_params()
        url = f"{self.api}{path}"
        plain = self.plain_permalinks  # as sent (see `send`)
        if plain:
            # Sites on plain permalinks have no /wp-json/; the same routes answer at
            # /?rest_route=/wc/v3/... (research section 8).
            url = f"{self.root}/"
            query["rest_route"] = f"/wc/v3{path}"
        try:
            return await http.send(
                method,
                url,
                params=query,
                json_body=json_body,
                context=context,
                before=self._attempt(ticket),
            )
        except ChannelResponseError as exc:
            # /wp-json/ on a plain-permalink site is WordPress's HTML 404 page: no REST `code`.
            if plain or exc.http_status != 404 or exc.code is not None:
                raise
        if not self.plain_permalinks:
            log.info(
                "%s: no /wp-json/ on this site (plain permalinks); using ?rest_route=", self.name
            )
        self.plain_permalinks = True
        return await self._route(http, method, path, params, json_body, context, ticket)

    def _attempt(self, ticket: Ticket) -> Callable[[], Awaitable[None]]:
        """The hook run before each try of one request: a try after the first means the last
        was refused (429, 5xx) or timed out, which the limit hears as the host's overload."""
        tries = 0

        async def before() -> None:
            nonlocal tries
            tries += 1
            if tries > 1:
                await self.limit.retry(ticket)
            self.limit.sending(ticket)

        return before

    def _auth_params(self) -> dict[str, str | int]:
        return {
            "consumer_key": self.settings.key.reveal(),
            "consumer_secret": self.settings.secret.reveal(),
        }

    async def pages(
        self, path: str, params: dict[str, str | int], item: type[P], *, root: str, context: str
    ) -> AsyncIterator[list[P]]:
        """Every page of a collection, following Woo's Link / X-WP-TotalPages headers."""
        async for response, rows in self.raw_pages(path, params, root=root, context=context):
            yield self.http.validate(response, list[item], rows, root=root)  # type: ignore[valid-type]

    async def raw_pages(
        self, path: str, params: dict[str, str | int], *, root: str, context: str
    ) -> AsyncIterator[tuple[httpx.Response, list[Any]]]:
        """Every page of a collection as a list of unread items, checked as a whole.

        A page walk that did not see every item the shop holds is an error, never a short
        read: a proxy or plugin answering page N with page N−1 repeats ids and leaves page N's
        items unread, and a cursor moved past them would lose their sales for good. So ids
        seen twice, and fewer ids than the shop's `X-WP-Total`, fail the walk (the channel
        fails this run, nothing is moved, the next run reads it again). Pages after the first
        are asked for side by side, as many as the first one's X-WP-TotalPages announces, and
        checked in page order, as a walk one page at a time would.
        """
        page = 1
        seen: set[Any] = set()
        read = 0  # items, with or without a readable id
        promised = 0  # the most X-WP-Total said: an item leaving mid-walk shifts one unread

        # Responses of consecutive pages from `page` on: page 1 alone, then every page its
        # X-WP-TotalPages announces at once (they do not depend on each other), in order; a
        # page past them (items added meanwhile) is followed as its Link header says. Pages
        # asked for at once queue in the limit (`send`), not in the pool (whose wait times out).
        batch = [await self._page(path, params, page, context)]
        while True:
            for response in batch:
                body = self.http.json(response, "a JSON list")
                rows = self.http.validate(response, list[Any], body, root=root)
                ids = [
                    row["id"]
                    for row in rows
                    if isinstance(row, dict) and isinstance(row.get("id"), int | str)
                ]
                repeated = seen.intersection(ids)
                if repeated or len(set(ids)) < len(ids):
                    raise ChannelResponseError(
                        self.name,
                        f"{context}: page {page} repeats {len(repeated) or 'its own'} item(s) "
                        f"already read (a cache or plugin answering another page?); not read "
                        f"completely, tried again next run",
                    )
                seen.update(ids)
                read += len(rows)
                total = response.headers.get("X-WP-Total", "")
                promised = max(promised, int(total) if total.isdigit() else 0)
                yield response, rows
                page += 1
            last = page - 1
            if not rows or not self._has_next(response, last):
                break
            announced = response.headers.get("X-WP-TotalPages", "")
            end = max(page, int(announced) if announced.isdigit() else page)
            batch = list(
                await asyncio.gather(
                    *(self._page(path, params, n, context) for n in range(page, end + 1))
                )
            )
        if read < promised:
            raise ChannelResponseError(
                self.name,
                f"{context}: read {read} of the {promised} items the shop says it holds "
                f"(X-WP-Total); not read completely, tried again next run",
            )

    async def _page(
        self, path: str, params: dict[str, str | int], page: int, context: str
    ) -> httpx.Response:
        return await self.send(
            "GET", path, params=params | {"per_page": PAGE, "page": page}, context=context
        )

    @staticmethod
    def _has_next(response: httpx.Response, page: int) -> bool:
        if "next" in response.links:
            return True
        total = response.headers.get("X-WP-TotalPages")
        return total is not None and total.isdigit() and int(total) > page
