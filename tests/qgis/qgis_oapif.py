"""Drive QGIS 3.40 (headless) against the OGC API: server-side filters and Part 4 edits.

Run with the Python of the Debian 13 root (``scripts/qgis340-root.sh``; the tests start it through
``chroot``), like ``qgis_load.py`` for the system QGIS 3.22. It imports nothing from the project and
writes its findings as JSON to ``--out``. The key in ``SDI_QGIS_KEY`` is stored as a *Basic*
authentication configuration (any user, the key as password), as a user would set QGIS up.

    qgis_oapif.py filter OGC_URL COLLECTION EXPRESSION --field F --out result.json
        the collection through the OAPIF provider with ``setSubsetString(EXPRESSION)`` (which QGIS
        3.40 sends to a server with CQL2-text and queryables as ``filter=``): the values of field F
        of the features QGIS got
    qgis_oapif.py edit OGC_URL COLLECTION --field F --add V --move V --change V:NEW --delete V --out r.json
        four edits, each committed on its own (``commitChanges``): add a point feature with F = V, move
        the feature whose F is V, give another F = NEW, delete another; each commit's outcome, the
        provider's capabilities and the errors QGIS reports
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsAuthMethodConfig,
    QgsFeature,
    QgsFeatureRequest,
    QgsGeometry,
    QgsPointXY,
    QgsVectorDataProvider,
    QgsVectorLayer,
)

AUTHCFG = "sdi3400"
#: Where the new and the moved features go (inside the province, beside the test layer's points).
NEW_POINT = (106.7123, 21.9012)
MOVED_POINT = (106.7234, 21.9123)


def store_key() -> str | None:
    """The key of ``SDI_QGIS_KEY`` as a Basic configuration; its id (None without a key)."""
    key = os.environ.get("SDI_QGIS_KEY")
    if not key:
        return None
    manager = QgsApplication.authManager()
    if not manager.setMasterPassword("sdi-test-master", True):
        raise SystemExit("cannot set the QGIS master password")
    config = QgsAuthMethodConfig("Basic")
    config.setId(AUTHCFG)
    config.setName("Lạng Sơn SDI")
    config.setConfig("username", "sdi")
    config.setConfig("password", key)
    ok, _ = manager.storeAuthenticationConfig(config, True)
    if not ok:
        raise SystemExit("cannot store the authentication configuration")
    return AUTHCFG


def open_layer(ogc_url: str, collection: str, authcfg: str | None) -> QgsVectorLayer:
    source = f"url='{ogc_url}' typename='{collection}'" + (f" authcfg={authcfg}" if authcfg else "")
    layer = QgsVectorLayer(source, collection, "OAPIF")
    if not layer.isValid():
        raise SystemExit(f"layer not valid: {layer.error().summary()}")
    return layer


def filtered(layer: QgsVectorLayer, expression: str, field: str) -> dict:
    """The features QGIS gets with ``expression`` as the layer's subset string."""
    ok = layer.setSubsetString(expression)
    return {"subset_accepted": ok, "subset": layer.subsetString(),
            "values": sorted(str(f[field]) for f in layer.getFeatures())}


def feature_where(layer: QgsVectorLayer, field: str, value: str) -> QgsFeature:
    request = QgsFeatureRequest().setFilterExpression(f"\"{field}\" = '{value}'")
    found = list(layer.getFeatures(request))
    if len(found) != 1:
        raise SystemExit(f"expected one feature with {field} = {value!r}, found {len(found)}")
    return found[0]


def commit(layer: QgsVectorLayer, step: str, edit) -> dict:
    """One edit in its own edit session; whether QGIS saved it and what it said."""
    layer.startEditing()
    applied = bool(edit())
    saved = layer.commitChanges()
    errors = list(layer.commitErrors())
    if not saved:
        layer.rollBack()
    return {"step": step, "applied": applied, "saved": saved, "errors": errors}


def edits(layer: QgsVectorLayer, field: str, add: str, move: str, change: str, delete: str) -> dict:
    caps = layer.dataProvider().capabilities()
    names = {"add": QgsVectorDataProvider.AddFeatures, "delete": QgsVectorDataProvider.DeleteFeatures,
             "change_geometries": QgsVectorDataProvider.ChangeGeometries,
             "change_attributes": QgsVectorDataProvider.ChangeAttributeValues}
    out: dict = {"qgis": Qgis.version(), "capabilities": sorted(n for n, c in names.items() if caps & c),
                 "steps": []}
    index = layer.fields().indexOf(field)
    old, new = change.split(":", 1)
    moved, changed, deleted = (feature_where(layer, field, v) for v in (move, old, delete))

    def add_feature() -> bool:
        feature = QgsFeature(layer.fields())
        feature.setAttribute(index, add)
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*NEW_POINT)))
        return layer.addFeature(feature)

    out["steps"].append(commit(layer, "add", add_feature))
    out["steps"].append(commit(layer, "move", lambda: layer.changeGeometry(
        moved.id(), QgsGeometry.fromPointXY(QgsPointXY(*MOVED_POINT)))))
    out["steps"].append(commit(layer, "change", lambda: layer.changeAttributeValue(changed.id(), index, new)))
    out["steps"].append(commit(layer, "delete", lambda: layer.deleteFeature(deleted.id())))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    filt, edit = sub.add_parser("filter"), sub.add_parser("edit")
    for p in (filt, edit):
        p.add_argument("ogc_url")
        p.add_argument("collection")
        p.add_argument("--field", required=True)
        p.add_argument("--out", required=True)
    filt.add_argument("expression")
    for name in ("--add", "--move", "--change", "--delete"):
        edit.add_argument(name, required=True)
    args = parser.parse_args(argv)
    app = QgsApplication([], False)
    app.initQgis()
    layer = open_layer(args.ogc_url, args.collection, store_key())
    if args.command == "filter":
        result = filtered(layer, args.expression, args.field)
    else:
        result = edits(layer, args.field, args.add, args.move, args.change, args.delete)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, default=str), encoding="utf-8")
    del layer
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
