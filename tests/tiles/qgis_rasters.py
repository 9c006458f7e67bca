"""Drive real QGIS (headless) on the raster layers; run with the SYSTEM Python (python3-qgis).

    qgis_rasters.py project FILE.qgs BBOX [--authcfg ID] --out result.json
        read a project; draw each raster layer (``raster_…``) alone over BBOX
    qgis_rasters.py wmts CAPABILITIES_URL LAYER BBOX --out result.json
        a layer of a WMTS capabilities document through QGIS's WMS/WMTS provider
    qgis_rasters.py gdal URL BBOX --out result.json
        a COG over HTTP through QGIS's GDAL provider (``/vsicurl/``)

BBOX is ``west,south,east,north`` in degrees. For each layer: validity, provider, CRS, and the
pixels painted (alpha > 0) and their mean colour in a 256 × 256 rendering in EPSG:3857. With
``--authcfg ID`` the key in ``SDI_QGIS_KEY`` is stored as a Basic configuration with that id.
It imports nothing from the project (only ``tests/qgis/qgis_load.py``'s ``store_key``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from urllib.parse import quote

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "qgis"))  # the vector helper, beside
from qgis_load import store_key

MERCATOR = QgsCoordinateReferenceSystem("EPSG:3857")


def extent(bbox: str) -> QgsRectangle:
    west, south, east, north = map(float, bbox.split(","))
    transform = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), MERCATOR, QgsProject.instance())
    return transform.transformBoundingBox(QgsRectangle(west, south, east, north))


def draw(layer, area: QgsRectangle) -> dict:
    """Render ``layer`` alone over ``area``: pixels painted and their mean colour."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(MERCATOR)
    settings.setExtent(area)
    settings.setOutputSize(QSize(256, 256))
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage().convertToFormat(QImage.Format_ARGB32)
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    raw = bytes(bits)  # BGRA
    painted = [(raw[i + 2], raw[i + 1], raw[i]) for i in range(0, len(raw), 4) if raw[i + 3] > 0]
    mean = [round(sum(p[c] for p in painted) / len(painted), 1) for c in range(3)] if painted else None
    return {"painted": len(painted), "mean_rgb": mean, "errors": [str(e) for e in job.errors()]}


def describe(layer, area: QgsRectangle, draw_it: bool = True) -> dict:
    info = {"valid": layer.isValid(), "provider": layer.providerType(), "name": layer.name(),
            "crs": layer.crs().authid(), "error": layer.error().summary() if not layer.isValid() else ""}
    if layer.isValid() and draw_it:
        info.update(draw(layer, area))
    return info


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("project", "wmts", "gdal"))
    parser.add_argument("args", nargs="+")
    parser.add_argument("--authcfg")
    parser.add_argument("--out", required=True)
    opts = parser.parse_args(argv)
    app = QgsApplication([], False)
    app.initQgis()
    if opts.authcfg:
        store_key(opts.authcfg)
    result: dict = {}
    if opts.mode == "project":
        path, bbox = opts.args
        project = QgsProject.instance()
        result["read"] = project.read(path)
        area = extent(bbox)
        root = project.layerTreeRoot()
        result["groups"] = [group.name() for group in root.findGroups()]
        for node in root.findLayers():
            if node.layerId().startswith("raster_"):
                result[node.layerId()] = {**describe(node.layer(), area), "group": node.parent().name(),
                                          "checked": node.itemVisibilityChecked(),
                                          "source": node.layer().source()}
    elif opts.mode == "wmts":
        caps, name, bbox = opts.args
        uri = (f"contextualWMSLegend=0&crs=EPSG:3857&dpiMode=7&featureCount=10&format=image/png&layers={name}"
               f"&styles=default&tileMatrixSet=WebMercatorQuad&url={quote(caps, safe=':/')}")
        result[name] = describe(QgsRasterLayer(uri, name, "wms"), extent(bbox))
    else:
        url, bbox = opts.args
        layer = QgsRasterLayer(f"/vsicurl/{url}", "cog", "gdal")
        result["cog"] = {**describe(layer, extent(bbox)), "bands": layer.bandCount() if layer.isValid() else 0}
    with open(opts.out, "w", encoding="utf-8") as out:
        json.dump(result, out, ensure_ascii=False, indent=1)
    # QGIS 3.22 can crash while tearing down a GDAL /vsicurl/ layer at interpreter exit; the
    # findings are written: leave without the teardown
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
