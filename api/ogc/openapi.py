"""The OpenAPI document of one view: pygeoapi's, made self-contained.

pygeoapi's generator refers to OGC schema files on the web (``schemas.opengis.net``, the
OGC API – Records repository) with absolute ``$ref`` URLs. Offline clients and fuzzers cannot
follow those, so :func:`openapi_document` copies every external piece it needs into
``components`` — from the copies vendored in ``api/ogc/schemas`` (see the README there) — and
rewrites the refs to local ``#/components/...`` ones, recursively, including the refs
*inside* the vendored files (relative to them). Nothing is fetched: a ref to a file that is
not vendored is an error (the tests would show it after a pygeoapi upgrade).

Copied components are named ``<source>.<name>`` (``features1.Features``, ``tiles1.link``,
``cql2.cql2expression``…): the sources define different things under the same name (the
Features and Tiles ``link`` schemas differ). The CQL2 JSON Schema (draft 2020-12) is
translated to the OpenAPI 3.0 schema dialect: ``$defs`` become components, ``$dynamicRef``
refers to its anchor's component, ``prefixItems`` become ``items: {anyOf: [...]}``, ``const``
an ``enum``, a boolean schema ``{}`` or ``{not: {}}``, and a one-item list ``default`` of a
schema that is not an array (an erratum of OGC API – Processes) its item.

Why no library: ``jsonref`` and ``prance`` inline refs (the recursive CQL2 schema has no
finite inlined form, and component names would be lost); ``openapi-spec-validator`` and
``referencing`` resolve refs for validation but do not bundle them. Bundling into components
is the small walk below.
"""

from __future__ import annotations

import copy
import json
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

import yaml
from pygeoapi.openapi import get_oas

SCHEMAS_DIR = Path(__file__).with_name("schemas")

#: Where pygeoapi's refs point → (vendored folder under ``schemas/``, component name prefix).
#: Below each prefix the vendored folder mirrors the published layout, so relative refs
#: inside the files resolve to vendored files too.
VENDORED: dict[str, tuple[str, str]] = {
    "https://schemas.opengis.net/ogcapi/features/part1/1.0/openapi/": ("ogcapi-features-1", "features1"),
    "https://schemas.opengis.net/ogcapi/tiles/part1/1.0/openapi/": ("ogcapi-tiles-1", "tiles1"),
    "https://schemas.opengis.net/ogcapi/processes/part1/1.0/openapi/": ("ogcapi-processes-1", "processes1"),
    "https://raw.githubusercontent.com/opengeospatial/ogcapi-records/master/core/openapi/":
        ("ogcapi-records-1", "records1"),
    "https://schemas.opengis.net/cql2/1.0/": ("cql2", "cql2"),
}

#: Kept with the copies, as the OGC licence asks of modified copies.
NOTICE = (
    "Components named features1.*, tiles1.*, processes1.*, records1.* and cql2.* are copied from OGC "
    "schemas (Copyright (c) Open Geospatial Consortium, under the OGC licence, "
    "https://www.ogc.org/license). They were adapted to OpenAPI 3.0 for this self-contained document "
    "(refs rewritten; the CQL2 JSON Schema translated; a TileMatrixSet enumeration written for this "
    "server; four OGC API - Processes schemas written after the 1.0 standard): these modifications have "
    "not been approved or adopted by the OGC."
)

#: Schema Object keywords of OpenAPI 3.0, copied as they are.
_OAS30_KEYWORDS = frozenset({
    "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength",
    "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxProperties", "minProperties",
    "required", "enum", "type", "description", "format", "default", "nullable", "discriminator",
    "readOnly", "writeOnly", "example", "externalDocs", "deprecated", "xml",
})
#: JSON Schema keywords with no meaning in an OpenAPI 3.0 document once its refs are bundled.
_DROPPED = frozenset({"$schema", "$id", "$comment", "$anchor", "$dynamicAnchor", "$defs", "definitions",
                      "$vocabulary"})
#: Keys under which the next key is a *name* (a property, a path, a media type), not a keyword.
_NAME_MAPS = frozenset({"properties", "paths", "content", "schemas", "parameters", "responses",
                        "requestBodies", "headers", "examples"})
_SCHEMA_KEYS = frozenset({"schema", "items", "allOf", "oneOf", "anyOf", "not", "additionalProperties"})


def openapi_document(config: dict) -> dict:
    """pygeoapi's OpenAPI 3.0 document for ``config``, with no external ``$ref``.

    The ``limit`` parameter's default and maximum come from ``server.limits`` of the config."""
    return bundle(get_oas(config, fail_on_invalid_collection=False))


def bundle(document: dict) -> dict:
    """``document`` with every external ``$ref`` copied into ``components`` (a new dict)."""
    return _Bundler(document).run()


class _Bundler:
    def __init__(self, document: dict) -> None:
        self.document = document
        self.existing = {kind: set(items) for kind, items in document.get("components", {}).items()
                         if isinstance(items, dict)}
        self.added: dict[str, dict[str, Any]] = {}
        self.names: dict[tuple[str, str], str] = {}  # (kind, absolute URI) → component name

    def run(self) -> dict:
        result = self._main(self.document, ())
        if self.added:
            components = result.setdefault("components", {})
            for kind, items in self.added.items():
                components.setdefault(kind, {}).update(sorted(items.items()))
            result.setdefault("info", {})["x-schema-notice"] = NOTICE
        return result

    # --- pygeoapi's own document: only absolute refs are external ------------------------------

    def _main(self, node: Any, path: tuple) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return {"$ref": self._component(ref, "", _kind_at(path))}
            return {k: self._main(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self._main(v, (*path, i)) for i, v in enumerate(node)]
        return node

    # --- components copied from vendored files ---------------------------------------------------

    def _component(self, ref: str, base: str, kind: str) -> str:
        """The local ref of the component for ``ref`` (relative to ``base``), copied on first use."""
        uri, target = _resolve(urljoin(base, ref))
        key = (kind, uri)
        if key not in self.names:
            name = self._new_name(kind, uri, target)
            self.names[key] = name
            self.added.setdefault(kind, {})[name] = None  # reserved first: recursive schemas end
            doc_uri = urldefrag(uri).url
            value = self._schema(target, doc_uri) if kind == "schemas" else self._object(target, doc_uri, kind)
            self.added[kind][name] = value
        return f"#/components/{kind}/{self.names[key]}"

    def _new_name(self, kind: str, uri: str, target: Any) -> str:
        doc_uri, fragment = urldefrag(uri)
        _, prefix = _vendored(doc_uri)
        if fragment:
            local = unquote(fragment).rstrip("/").rsplit("/", 1)[-1]
        elif isinstance(target, dict) and isinstance(target.get("$dynamicAnchor") or target.get("$anchor"), str):
            local = target.get("$dynamicAnchor") or target["$anchor"]
        else:
            local = Path(doc_uri).stem
        name, n = f"{prefix}.{local}", 1
        taken = self.existing.get(kind, set()) | set(self.added.get(kind, {}))
        while name in taken:
            n += 1
            name = f"{prefix}.{local}-{n}"
        return name

    def _object(self, node: Any, base: str, kind: str) -> Any:
        """A Parameter, Response, Request Body, Header or Example Object."""
        if not isinstance(node, dict):
            raise ValueError(f"{base}: a {kind} component is not an object: {node!r}")
        if "$ref" in node:
            return {"$ref": self._component(node["$ref"], base, kind)}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "schema":
                out[key] = self._schema(value, base)
            elif key == "content":
                out[key] = {media: self._media(obj, base) for media, obj in value.items()}
            elif key == "headers" and kind == "responses":
                out[key] = {name: self._object(obj, base, "headers") for name, obj in value.items()}
            elif key == "examples" and kind in ("parameters", "headers"):
                out[key] = {name: self._object(obj, base, "examples") for name, obj in value.items()}
            else:
                out[key] = copy.deepcopy(value)
        return out

    def _media(self, node: dict, base: str) -> dict:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "schema":
                out[key] = self._schema(value, base)
            elif key == "examples":
                out[key] = {name: self._object(obj, base, "examples") for name, obj in value.items()}
            else:
                out[key] = copy.deepcopy(value)
        return out

    def _schema(self, node: Any, base: str) -> Any:
        """A Schema Object in the OpenAPI 3.0 dialect (JSON Schema 2020-12 translated)."""
        if node is True:
            return {}
        if node is False:
            return {"not": {}}
        if not isinstance(node, dict):
            raise ValueError(f"{base}: not a schema: {node!r}")
        ref = node.get("$ref", node.get("$dynamicRef"))
        if isinstance(ref, str):  # the ref's siblings mean nothing to OpenAPI 3.0
            return {"$ref": self._component(ref, base, "schemas")}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED or key == "prefixItems":
                continue
            if key == "properties":
                out[key] = {name: self._schema(sub, base) for name, sub in value.items()}
            elif key in ("allOf", "oneOf", "anyOf"):
                out[key] = [self._schema(sub, base) for sub in value]
            elif key == "not":
                out[key] = self._schema(value, base)
            elif key == "additionalProperties":
                out[key] = value if isinstance(value, bool) else self._schema(value, base)
            elif key == "items":
                if isinstance(value, list):  # draft-04 tuple form
                    out[key] = _any_of([self._schema(sub, base) for sub in value])
                elif value is not False or "prefixItems" not in node:
                    out[key] = self._schema(value, base)
            elif key == "const":
                out["enum"] = [copy.deepcopy(value)]
            elif key == "default" and isinstance(value, list) and len(value) == 1 and node.get("type") != "array":
                # processes1 transmissionMode.yaml: `default: [value]` on a string means the string
                out[key] = copy.deepcopy(value[0])
            elif key == "type" and isinstance(value, list):
                types = [t for t in value if t != "null"]
                if len(types) != len(value):
                    out["nullable"] = True
                if len(types) == 1:
                    out["type"] = types[0]
                elif types:
                    out.setdefault("allOf", []).append({"anyOf": [{"type": t} for t in types]})
            elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
                out[key.replace("exclusiveM", "m")] = value
                out[key] = True
            elif key == "examples" and isinstance(value, list):
                if value:
                    out.setdefault("example", copy.deepcopy(value[0]))
            elif key in _OAS30_KEYWORDS or key.startswith("x-"):
                out[key] = copy.deepcopy(value)
            else:
                raise ValueError(f"{base}: schema keyword {key!r} has no OpenAPI 3.0 equivalent")
        if "prefixItems" in node:  # a tuple: each position one of the listed schemas (looser, but valid)
            choices = [self._schema(sub, base) for sub in node["prefixItems"]]
            if node.get("items", False) is not False:
                choices.append(out.pop("items"))
            out["items"] = _any_of(choices)
        return out


def _any_of(choices: list) -> Any:
    unique: list = []
    for choice in choices:
        if choice not in unique:
            unique.append(choice)
    return unique[0] if len(unique) == 1 else {"anyOf": unique}


def _kind_at(path: tuple) -> str:
    """The component kind a ``$ref`` at ``path`` of an OpenAPI document refers to."""
    for i in range(len(path) - 1, -1, -1):
        key, parent = path[i], (path[i - 1] if i else None)
        if parent == "components":
            return key
        if not isinstance(key, str) or parent in _NAME_MAPS:
            continue  # a list index or a name (of a property, path, media type…)
        if key in _SCHEMA_KEYS:
            return "schemas"
        if key == "parameters":
            return "parameters"
        if key == "responses":
            return "responses"
        if key == "requestBody":
            return "requestBodies"
    return "schemas"


@lru_cache(maxsize=256)
def _vendored(doc_uri: str) -> tuple[Path, str]:
    """The vendored file for the published ``doc_uri`` and its component name prefix."""
    uri = doc_uri.replace("http://", "https://", 1)
    for published, (folder, prefix) in VENDORED.items():
        if uri.startswith(published):
            path = (SCHEMAS_DIR / folder / unquote(uri[len(published):])).resolve()
            if path.is_relative_to(SCHEMAS_DIR.resolve()) and path.is_file():
                return path, prefix
    raise LookupError(f"{doc_uri} is not vendored in {SCHEMAS_DIR} (nothing is fetched from the internet)")


def _resolve(uri: str) -> tuple[str, Any]:
    """The absolute URI (``doc#/pointer``) and node ``uri`` leads to, through pure ``$ref`` aliases."""
    for _ in range(32):
        doc_uri, fragment = urldefrag(uri)
        document = _load(_vendored(doc_uri)[0])
        pointer, node = _locate(document, unquote(fragment), doc_uri)
        if isinstance(node, dict) and set(node) == {"$ref"}:  # an alias (tiles1's components do this)
            uri = urljoin(doc_uri, node["$ref"])
            continue
        return (f"{doc_uri}#{pointer}" if pointer else doc_uri), node
    raise ValueError(f"{uri}: $ref chain too long")


def _locate(document: Any, fragment: str, doc_uri: str) -> tuple[str, Any]:
    """The JSON pointer and node of a fragment: a pointer, or a (dynamic) anchor's name."""
    if not fragment:
        return "", document
    if fragment.startswith("/"):
        node = document
        for token in fragment[1:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return fragment, node
    for pointer, node in _walk(document, ""):
        if isinstance(node, dict) and fragment in (node.get("$anchor"), node.get("$dynamicAnchor")):
            return pointer, node
    raise LookupError(f"{doc_uri}: no anchor {fragment!r}")


def _walk(node: Any, pointer: str):
    yield pointer, node
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from _walk(value, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML without implicit timestamps: every value stays JSON-serialisable."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@cache
def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
