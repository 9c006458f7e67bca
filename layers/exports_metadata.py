"""A layer's metadata for the national data portal: ISO 19139 XML and DCAT (JSON-LD).

ISO 19139 is written by pygeometa (geopython's metadata library) from its Metadata Control File
(MCF): Vietnamese is the record's language, English the alternate one, so titles, abstracts and
keywords come out as ``gmd:PT_FreeText`` translations, not one joined string. DCAT is written here:
pygeometa's DCAT writer turns multilingual keywords into their language codes and emits language
maps its JSON-LD context does not declare, so the portal would read neither; this one gives each
text as language-tagged values (``{"@value": …, "@language": "vi"}``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pygeometa.core import validate_mcf
from pygeometa.schemas.iso19139 import ISO19139OutputSchema

from layers.catalog import Layer
from sdi.agencies import read_agencies

#: ISO 19115 MD_MaintenanceFrequencyCode → the EU frequency vocabulary DCAT portals use
_FREQUENCY = {"continual": "CONT", "daily": "DAILY", "weekly": "WEEKLY", "fortnightly": "BIWEEKLY",
              "monthly": "MONTHLY", "quarterly": "QUARTERLY", "biannually": "ANNUAL_2", "annually": "ANNUAL",
              "asNeeded": "IRREG", "irregular": "IRREG", "notPlanned": "NEVER", "unknown": "UNKNOWN"}
_GEOMTYPE = {"POINT": "point", "MULTIPOLYGON": "surface", "MULTILINESTRING": "curve"}
PROVINCE_BBOX = [106.0, 21.3, 107.4, 22.5]


def _date(value: dt.datetime | None) -> str:
    return (value or dt.datetime.now(dt.UTC)).date().isoformat()


def _contact(organization: str, url: str, email: str, role: str) -> dict[str, Any]:
    # pygeometa's MCF asks for every address field; the province's agencies publish these ones
    return {"organization": organization, "url": url, "email": email, "role": role, "individualname": "",
            "positionname": "", "phone": "", "fax": "", "address": "", "city": "Lạng Sơn",
            "administrativearea": "Lạng Sơn", "postalcode": "", "country": "Việt Nam"}


def mcf(layer: Layer, base_url: str) -> dict:
    """pygeometa's Metadata Control File for ``layer``."""
    agency = read_agencies().get(layer.owner)
    owner = f"{agency.name_vi} / {agency.name_en}" if agency else layer.owner_agency
    page, ogc = f"{base_url}/layers/{layer.id}", f"{base_url}/ogc/collections/{layer.id}"
    temporal = [{"begin": layer.temporal_start.isoformat() if layer.temporal_start else None,
                 "end": layer.temporal_end.isoformat() if layer.temporal_end else None}] \
        if (layer.temporal_start or layer.temporal_end) else []
    record: dict[str, Any] = {
        "mcf": {"version": 2.0},
        "metadata": {"identifier": layer.id, "language": "vi", "language_alternate": "en", "charset": "utf8",
                     "hierarchylevel": "dataset", "dataseturi": page,
                     "dates": {"creation": _date(layer.last_updated)}},
        "spatial": {"datatype": "vector" if layer.geometry else "textTable",
                    "geomtype": _GEOMTYPE.get(layer.geometry[0], "complex") if layer.geometry else "complex"},
        "identification": {
            "language": "vi", "charset": "utf8",
            "title": {"vi": layer.title_vi, "en": layer.title_en},
            "abstract": {"vi": layer.abstract_vi or layer.title_vi, "en": layer.abstract_en or layer.title_en},
            "dates": {"creation": _date(layer.last_updated), "revision": _date(layer.last_updated)},
            "keywords": {"default": {"keywords": {"vi": layer.keywords or [layer.title_vi],
                                                  "en": layer.keywords_en or [layer.title_en]},
                                     "keywords_type": "theme"}},
            "topiccategory": ["location"],
            "extents": {"spatial": [{"bbox": layer.extent or PROVINCE_BBOX, "crs": 4326}], "temporal": temporal},
            "fees": "None", "accessconstraints": "otherRestrictions" if layer.access_level != "public" else "license",
            "rights": {"vi": layer.licence or "—", "en": layer.licence or "—"},
            "url": ogc, "status": "onGoing", "maintenancefrequency": layer.update_frequency,
        },
        "contact": {"pointOfContact": _contact(owner, page, layer.contact or "", "pointOfContact"),
                    "distributor": _contact("Hạ tầng dữ liệu không gian tỉnh Lạng Sơn / Lạng Sơn SDI", base_url, "",
                                            "distributor")},
        "distribution": {"ogcapi": {"url": ogc, "type": "OGC:API-Features", "name": layer.id,
                                    "description": {"vi": "OGC API – Features", "en": "OGC API – Features"},
                                    "function": "download"}},
        "dataquality": {"scope": {"level": "dataset"},
                        "lineage": {"statement": layer.lineage or f"Nguồn / source: {layer.attribution}"}},
    }
    if not temporal:
        del record["identification"]["extents"]["temporal"]
    validate_mcf(record)
    return record


def iso19139(layer: Layer, base_url: str) -> str:
    """The ISO 19139 XML record of ``layer``."""
    return str(ISO19139OutputSchema().write(mcf(layer, base_url)))


def _texts(vi: str, en: str) -> list[dict[str, str]]:
    return [t for t in ({"@value": vi, "@language": "vi"}, {"@value": en, "@language": "en"}) if t["@value"]]


def dcat(layer: Layer, base_url: str) -> dict:
    """The DCAT dataset of ``layer`` as JSON-LD."""
    agency = read_agencies().get(layer.owner)
    west, south, east, north = layer.extent or PROVINCE_BBOX
    ogc = f"{base_url}/ogc/collections/{layer.id}"
    dataset: dict[str, Any] = {
        "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
                     "foaf": "http://xmlns.com/foaf/0.1/", "vcard": "http://www.w3.org/2006/vcard/ns#",
                     "locn": "http://www.w3.org/ns/locn#", "xsd": "http://www.w3.org/2001/XMLSchema#"},
        "@id": f"{base_url}/layers/{layer.id}",
        "@type": "dcat:Dataset",
        "dct:identifier": layer.id,
        "dct:title": _texts(layer.title_vi, layer.title_en),
        "dct:description": _texts(layer.abstract_vi, layer.abstract_en),
        "dcat:keyword": [{"@value": k, "@language": "vi"} for k in layer.keywords]
        + [{"@value": k, "@language": "en"} for k in layer.keywords_en],
        "dct:language": [{"@id": "http://publications.europa.eu/resource/authority/language/VIE"},
                         {"@id": "http://publications.europa.eu/resource/authority/language/ENG"}],
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": _texts(
            agency.name_vi if agency else layer.owner_agency, agency.name_en if agency else layer.owner_agency_en)},
        "dct:license": layer.licence,
        "dct:rights": layer.attribution,
        "dct:accrualPeriodicity": {"@id": "http://publications.europa.eu/resource/authority/frequency/"
                                          + _FREQUENCY.get(layer.update_frequency, "UNKNOWN")},
        "dct:spatial": {"@type": "dct:Location", "dcat:bbox": {
            "@value": f"POLYGON(({west} {south},{east} {south},{east} {north},{west} {north},{west} {south}))",
            "@type": "http://www.opengis.net/ont/geosparql#wktLiteral"}},
        "dcat:distribution": [
            {"@type": "dcat:Distribution", "dcat:accessURL": {"@id": ogc}, "dct:format": "OGC API – Features",
             "dcat:mediaType": "application/geo+json", "dcat:downloadURL": {"@id": f"{ogc}/items?f=json"}},
            {"@type": "dcat:Distribution", "dcat:accessURL": {"@id": f"{ogc}/tiles"},
             "dct:format": "OGC API – Tiles", "dcat:mediaType": "application/vnd.mapbox-vector-tile"}],
    }
    if layer.last_updated:
        dataset["dct:modified"] = {"@value": layer.last_updated.isoformat(), "@type": "xsd:dateTime"}
    if layer.contact:
        dataset["dcat:contactPoint"] = {"@type": "vcard:Organization", "vcard:hasEmail": f"mailto:{layer.contact}"}
    if layer.lineage:
        dataset["dct:provenance"] = {"@type": "dct:ProvenanceStatement", "rdfs:label": layer.lineage}
        dataset["@context"]["rdfs"] = "http://www.w3.org/2000/01/rdf-schema#"
    if layer.temporal_start or layer.temporal_end:
        dataset["dct:temporal"] = {"@type": "dct:PeriodOfTime", **{
            k: {"@value": v.isoformat(), "@type": "xsd:dateTime"}
            for k, v in (("dcat:startDate", layer.temporal_start), ("dcat:endDate", layer.temporal_end)) if v}}
    return dataset
