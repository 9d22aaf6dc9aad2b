"""Score: pre-signed-URL file transfer for genomics object storage."""

__version__ = "0.1.0"
