"""Xero's accounting API for one organisation: ``api.XeroApi`` (the resources of ``contacts``,
``items``, ``invoices`` and ``organisation`` on ``transport.XeroTransport``), the shared
``ratelimit.RateLimiter``, and the plain types and date formats the engine shares (``results``,
``dates``).

Nothing is imported here, so the engine can use ``results`` and ``dates`` without loading the
HTTP stack.
"""
