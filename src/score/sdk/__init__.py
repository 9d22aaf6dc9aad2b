"""Score from Python: :class:`score.sdk.client.Client` (also ``score.Client``), the settings it shares with
``score-client`` (:mod:`score.sdk.config`, :mod:`score.sdk.score5_settings`), the session that builds its
HTTP clients (:mod:`score.sdk.session`) and the in-place reader (:mod:`score.sdk.reader`).
"""
