"""The tone of a customer's words: VADER's sentiment of a support ticket's text.

The moments language tests it (``tone: "< -0.3"``) and the models use it as a feature
(:mod:`momentstream.models.features`); both read the same cached score for the same text.
"""

from __future__ import annotations

import functools

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

__all__ = ["ticket_tone"]

_ANALYZER: SentimentIntensityAnalyzer | None = None


@functools.lru_cache(maxsize=512)  # a moment's tone test and the features read the same ticket's text
def ticket_tone(text: str) -> float:
    """VADER's compound score of a text, from -1 (angry) to 1 (delighted).

    Examples
    --------
    >>> ticket_tone("Thank you, this is great!") > 0.5, ticket_tone("This is broken and useless.") < 0
    (True, True)
    """
    global _ANALYZER  # noqa: PLW0603 - the lexicon loads once per process, on first use
    if _ANALYZER is None:
        _ANALYZER = SentimentIntensityAnalyzer()
    return float(_ANALYZER.polarity_scores(text)["compound"])
