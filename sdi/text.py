"""Text matching for Vietnamese names: search with or without diacritics."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower-case without diacritics, so "huu nghi" finds "Hữu Nghị" (đ → d as well)."""
    text = text.lower().replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def search_terms(query: str) -> list[str]:
    """The folded words of a search box's text (commas count as spaces)."""
    return [fold(t) for t in query.replace(",", " ").split() if t]
