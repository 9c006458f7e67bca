"""Drive real QGIS (headless) for the interoperability tests; run with the SYSTEM Python.

QGIS's Python bindings (Debian ``python3-qgis``) live in the system interpreter, not in the
project's virtual environment, so the tests run this script in a subprocess with
``QT_QPA_PLATFORM=offscreen`` and a throw-away HOME (QGIS profile and authentication
database). It imports nothing from the project and writes its findings as JSON to ``--out``.

    qgis_load.py collections OGC_URL ID [ID ...] --out result.json
        every collection through QGIS's OGC API – Features provider (``OAPIF``): validity,
        features read, each feature's bounding box and name-like attributes
    qgis_load.py project FILE.qgs [--authcfg ID] [--render] [--only ID,ID] --out result.json
        read a project with ``QgsProject.read``: its layers, groups, CRS and metadata; for each
        layer switched on (of the collections ``--only`` names), the features QGIS reads and,
        with ``--render``, the pixels it paints when drawn alone

With ``--authcfg ID`` the key in the environment variable ``SDI_QGIS_KEY`` is stored as a
*Basic* authentication configuration with that id (the key as password), as a user would.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsAuthMethodConfig,
    QgsLayerTreeLayer,
    QgsMapLayerType,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage

#: Attributes reported per feature, when the layer has them.
NAME_FIELDS = ("code", "name", "name_vi", "name_en", "title_vi")


def start_qgis() -> QgsApplication:
    """A headless QGIS with its providers."""
    app = QgsApplication([], False)
    app.initQgis()
    return app


def store_key(authcfg: str) -> None:
    """The key of ``SDI_QGIS_KEY`` as a Basic configuration ``authcfg`` (any user, key as password)."""
    manager = QgsApplication.authManager()
    if not manager.setMasterPassword("sdi-test-master", True):
        raise SystemExit("cannot set the QGIS master password")
    config = QgsAuthMethodConfig("Basic")
    config.setId(authcfg)
    config.setName("Lạng Sơn SDI")
    config.setConfig("username", "sdi")
    config.setConfig("password", os.environ["SDI_QGIS_KEY"])
    ok, _ = manager.storeAuthenticationConfig(config, True)
    if not ok:
        raise SystemExit(f"cannot store the authentication configuration {authcfg}")


# --- collections ---------------------------------------------------------------------------------

def load_collection(ogc_url: str, collection: str) -> dict:
    """One collection through the OAPIF provider, every feature read."""
    layer = QgsVectorLayer(f"url='{ogc_url}' typename='{collection}'", collection, "OAPIF")
    if not layer.isValid():
        return {"valid": False, "error": layer.error().summary()}
    names = [n for n in NAME_FIELDS if layer.fields().indexOf(n) >= 0]
    features = []
    for feature in layer.getFeatures():
        geometry = feature.geometry()
        box = None
        if not geometry.isNull():
            rect = geometry.boundingBox()
            box = [rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()]
        features.append({"attrs": {n: feature[n] for n in names}, "bbox": box})
    return {"valid": True, "crs": layer.crs().authid(), "wkb": QgsWkbTypes.displayString(layer.wkbType()),
            "feature_count": layer.featureCount(), "features": features}


# --- projects ------------------------------------------------------------------------------------

def read_project(path: str, render: bool, only: set[str] | None) -> dict:
    """Read ``path`` as QGIS does and describe what it holds."""
    project = QgsProject.instance()
    ok = project.read(path)
    view = project.viewSettings()
    extent = view.defaultViewExtent()
    out = {
        "read": ok, "error": project.error(), "title": project.title(), "crs": project.crs().authid(),
        "abstract": project.metadata().abstract(),
        "extent": [extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()],
        "extent_crs": extent.crs().authid(),
        "groups": [group.name() for group in project.layerTreeRoot().findGroups()],
        "layers": [],
    }
    for node in project.layerTreeRoot().findLayers():
        examine = only is None or node.layerId().rsplit("_", 1)[0] in only
        out["layers"].append(describe(node, project, render, examine))
    return out


def describe(node: QgsLayerTreeLayer, project: QgsProject, render: bool, examine: bool) -> dict:
    """One layer of the tree; features counted and pixels drawn only for the layers switched on."""
    layer = node.layer()
    info = {"id": node.layerId(), "name": node.name(), "group": node.parent().name(),
            "checked": node.itemVisibilityChecked(), "valid": bool(layer and layer.isValid())}
    if layer is None:
        return info
    info.update(provider=layer.providerType(), source=layer.source(), abstract=layer.abstract())
    if not (examine and layer.isValid() and node.itemVisibilityChecked()):
        return info
    started = time.monotonic()
    if layer.type() == QgsMapLayerType.VectorLayer:
        info.update(geometry=QgsWkbTypes.geometryDisplayString(layer.geometryType()),
                    count=sum(1 for _ in layer.getFeatures()))
    if render and (layer.type() == QgsMapLayerType.VectorTileLayer or layer.isSpatial()):
        info["painted"] = painted_pixels(layer, project)
    info["seconds"] = round(time.monotonic() - started, 2)
    return info


def painted_pixels(layer, project: QgsProject) -> int:
    """Draw ``layer`` alone over the project's default view; the pixels it painted."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(project.crs())
    settings.setExtent(project.viewSettings().defaultViewExtent())
    settings.setOutputSize(QSize(400, 400))
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage().convertToFormat(QImage.Format_ARGB32)
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    alpha = bytes(bits)[3::4]
    return len(alpha) - alpha.count(0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    coll = sub.add_parser("collections")
    coll.add_argument("ogc_url")
    coll.add_argument("ids", nargs="+")
    proj = sub.add_parser("project")
    proj.add_argument("file")
    proj.add_argument("--authcfg")
    proj.add_argument("--render", action="store_true")
    proj.add_argument("--only", help="comma-separated collection ids to count and draw")
    for p in (coll, proj):
        p.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    app = start_qgis()
    if getattr(args, "authcfg", None):
        store_key(args.authcfg)
    if args.command == "collections":
        result = {cid: load_collection(args.ogc_url, cid) for cid in args.ids}
    else:
        result = read_project(args.file, args.render, set(args.only.split(",")) if args.only else None)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, default=str), encoding="utf-8")
    QgsProject.instance().clear()
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
