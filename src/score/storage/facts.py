"""What every ObjectStore reports about itself (the port's three properties), written once for all adapters."""

from __future__ import annotations

from score.domain.parts import PartLimits


class StoreFacts:
    """The port's read-only facts: Score's profile name, the part limits and whether part ETags are MD5s.

    An adapter inherits it and calls :meth:`_set_facts` once in its constructor.
    """

    _profile: str
    _limits: PartLimits
    _etags_are_md5: bool

    def _set_facts(self, profile: str, limits: PartLimits, *, etags_are_md5: bool) -> None:
        self._profile = profile
        self._limits = limits
        self._etags_are_md5 = etags_are_md5

    @property
    def profile(self) -> str:
        """Score's storage profile name reported by ``/profile`` (``s3`` or ``az``)."""
        return self._profile

    @property
    def limits(self) -> PartLimits:
        """Part-size limits of this store (the provider's, with the configured minimum part size)."""
        return self._limits

    @property
    def etags_are_md5(self) -> bool:
        """True when a part's ETag is its MD5; clients check it then."""
        return self._etags_are_md5
