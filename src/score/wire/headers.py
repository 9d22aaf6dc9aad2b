"""HTTP header names of our own that client and server share (no dependencies: the client imports it)."""

from __future__ import annotations

# A client-chosen secret that makes the caller the owner of the upload it starts (issue 20): only a
# request that presents it again may resume, confirm or finalize that upload. Score's Java client
# sends none; its uploads are owned by the token's subject alone.
UPLOAD_TOKEN_HEADER = "X-Score-Upload-Token"  # noqa: S105  a name, not a secret
