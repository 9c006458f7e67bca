"""Band names: STAC ``eo`` common names from band descriptions (``B5_nir``, ``B08``, ``Red edge``…)."""

from __future__ import annotations

import re

#: Sentinel-2 band codes → common names
SENTINEL2 = {"b01": "coastal", "b02": "blue", "b03": "green", "b04": "red", "b05": "rededge", "b06": "rededge",
             "b07": "rededge", "b08": "nir", "b8a": "nir08", "b09": "nir09", "b11": "swir16", "b12": "swir22"}
#: words in a description → common name (first match wins; order matters: "red edge" before "red")
WORDS = [
    (r"coastal|aerosol", "coastal"),
    (r"red[\s_-]?edge|\bre\b", "rededge"),
    (r"nir|near[\s_-]?infra", "nir"),
    (r"swir[\s_-]?1\b|swir16|swir1[^\d]|swir_?1$", "swir16"),
    (r"swir[\s_-]?2\b|swir22|swir2[^\d]|swir_?2$", "swir22"),
    (r"\bblue\b|^blue|_blue", "blue"),
    (r"\bgreen\b|^green|_green", "green"),
    (r"\bred\b|^red|_red", "red"),
    (r"pan(chromatic)?\b", "pan"),
]
COMMON_NAMES = {"coastal", "blue", "green", "red", "rededge", "yellow", "pan", "nir", "nir08", "nir09",
                "cirrus", "swir16", "swir22", "lwir", "lwir11", "lwir12"}


def common_name(description: str | None) -> str | None:
    """The eo common name a band description stands for, if it is clear."""
    if not description:
        return None
    text = description.strip().lower()
    if text in COMMON_NAMES:
        return text
    code = re.search(r"\bb(\d{1,2}|8a)\b|^b(\d{1,2}|8a)[_\s]", text)
    if code:
        key = code.group(0).strip(" _")
        key = "b" + key[1:].zfill(2) if key[1:].isdigit() else key
        if key in SENTINEL2 and not re.search(r"[a-z]{3,}", text.replace(code.group(0), "")):
            return SENTINEL2[key]
    for pattern, name in WORDS:
        if re.search(pattern, text):
            return name
    return None


def band_common_names(descriptions: list[str | None], defaults: list[str]) -> list[str | None]:
    """Common names of all bands: from the descriptions when every named band is clear, else the
    collection's defaults when the count matches, else what the descriptions say band by band."""
    named = [common_name(d) for d in descriptions]
    if all(named):
        return named
    if defaults and len(defaults) == len(descriptions) and not any(named):
        return list(defaults)
    return named
