"""Random-access reading of objects over pre-signed URLs: renewing URLs, ranged fetches, a block cache.

Layer 2: it gets fresh URLs and the HTTP GET through injected callables, never by importing ``client/``.
Used by ``score-client mount``.
"""
