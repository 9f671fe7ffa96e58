"""The wire: HTTP and Bayeux with a GWS server, on the client's own event loop.

``rest`` (the aiohttp session: auth, JSESSIONID, CSRF, typed errors), ``cometd`` (gwsnb's Bayeux client)
with its helpers ``credentials``, ``reconnect``, ``hygiene`` and ``eventlog``, and ``loop`` (the background
loop thread the client and the sandbox share). Nothing here knows what a GetChainedRecord is: see
``docs/architecture.md``.
"""
