"""Step 6 — polygons: a window's change mask → pieces → events, merged across windows one row of windows
at a time (memory does not grow with the raster), minimum mapping unit on the area in EPSG:9215."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import shapely
from pyproj import CRS, Transformer
from rasterio.features import shapes
from rasterio.transform import Affine
from scipy import ndimage

from change.grid import AREA_EPSG
from change.threshold import MIN_INNER_SHARE

#: an area whose interior kept ``structure_kept`` of the first date's crown texture (``change.threshold``)
#: is leaf-off / dry-season canopy, not a clearing; judged only when the interior is a fair part of the
#: area (``change.threshold.MIN_INNER_SHARE``)


@dataclass
class Event:
    kind: str  # loss | gain
    geometry: shapely.Geometry  # grid CRS
    pixels: int
    magnitude: float  # mean score (index units, positive)
    confidence: float  # 0–1
    area_ha: float = 0.0

@dataclass
class Piece:
    kind: str
    geometry: shapely.Geometry
    pixels: int
    total: float
    conf: float
    #: touches the bottom edge of its window and a window lies below: may go on in the next row
    open: bool = False
    #: drones: crown-scale texture of the second date and of the first (normalised), summed over the interior
    kept: float = 0.0
    was: float = 0.0
    inner: int = 0  # pixels whose texture window lies inside the area (the texture sums are made there)


def merge(pieces: list[Piece], kind: str) -> list[Piece]:
    """Pieces of one kind cut by window edges → one piece per connected area, with the pixel count,
    score and confidence sums of its pieces; open when any of its pieces is."""
    mine = [p for p in pieces if p.kind == kind]
    if not mine:
        return []
    geoms = np.array([p.geometry for p in mine], dtype=object)
    merged = shapely.unary_union(shapely.make_valid(geoms))
    parts = np.array(shapely.get_parts(merged), dtype=object)
    parts = parts[shapely.get_type_id(parts) == 3]
    tree = shapely.STRtree(parts)
    points = shapely.point_on_surface(geoms)
    src, dst = tree.query(points, predicate="within")
    pixels = np.zeros(len(parts))
    total = np.zeros(len(parts))
    conf = np.zeros(len(parts))
    is_open = np.zeros(len(parts), dtype=bool)
    kept, was, inner = np.zeros(len(parts)), np.zeros(len(parts)), np.zeros(len(parts))
    np.add.at(kept, dst, [mine[i].kept for i in src])
    np.add.at(was, dst, [mine[i].was for i in src])
    np.add.at(inner, dst, [mine[i].inner for i in src])
    np.add.at(pixels, dst, [mine[i].pixels for i in src])
    np.add.at(total, dst, [mine[i].total for i in src])
    np.add.at(conf, dst, [mine[i].conf for i in src])
    np.logical_or.at(is_open, dst, [mine[i].open for i in src])
    return [Piece(kind, parts[j], int(pixels[j]), float(total[j]), float(conf[j]), bool(is_open[j]), float(kept[j]),
                  float(was[j]), int(inner[j]))
            for j in range(len(parts)) if pixels[j] > 0]


class Mosaic:
    """Pieces of the windows → events, one row of windows at a time, so that memory does not grow with
    the raster.

    When a row of windows is done its pieces are merged (``merge``) with the areas left open by the
    row above. A merged area that touches the bottom of the row may go on below: it stays, as one
    piece, for the next row; every other area is finished: its area is measured and it is kept as an
    event (≥ the minimum mapping unit) or dropped. Memory holds the pieces of one row of windows,
    the open areas along one boundary and the kept events — never every piece of the raster.
    (Hand-written: the merge is shapely's; what no library does is to know, from the window layout,
    which areas can still grow.)"""

    def __init__(self, crs: CRS, mmu_ha: float, structure_kept: float = 0.8) -> None:
        self.crs, self.mmu_ha, self.structure_kept = crs, mmu_ha, structure_kept
        self.vetoed = 0  # events dropped because most of them kept their crown structure
        self.row: list[Piece] = []
        self.open: list[Piece] = []
        self.events: list[Event] = []

    def add(self, pieces: list[Piece]) -> None:
        self.row.extend(pieces)

    def end_row(self) -> None:
        # the areas left open above go on only through this row's pieces that touch its bottom
        pool, self.row = [replace(p, open=False) for p in self.open] + self.row, []
        merged = merge(pool, "loss") + merge(pool, "gain")
        self.open = [p for p in merged if p.open]
        done = [p for p in merged if not p.open]
        areas = areas_ha([p.geometry for p in done], self.crs)
        for p, area in zip(done, areas, strict=True):
            if p.inner > MIN_INNER_SHARE * p.pixels and p.kept >= self.structure_kept * p.was:
                self.vetoed += 1
            elif area >= self.mmu_ha:
                self.events.append(Event(p.kind, p.geometry, p.pixels, p.total / p.pixels, p.conf / p.pixels,
                                         float(area)))



def areas_ha(geoms: list[shapely.Geometry], crs: CRS) -> np.ndarray:
    if not geoms:
        return np.zeros(0)
    if crs.to_epsg() == AREA_EPSG:
        return shapely.area(np.array(geoms, dtype=object)) / 1e4
    t = Transformer.from_crs(crs, AREA_EPSG, always_xy=True)
    projected = shapely.transform(np.array(geoms, dtype=object),
                                  lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    return shapely.area(projected) / 1e4


def pieces_of(name: str, mask: np.ndarray, score: np.ndarray, t: float, transform: Affine, open_bottom: bool,
              texture: tuple[np.ndarray, np.ndarray] | None = None, inner: np.ndarray | None = None,
              ) -> list[Piece]:
    """The connected areas of ``mask`` as pieces, with pixel count, score sum and confidence sum
    (confidence 0.5 at the threshold, 1 at twice it)."""
    if not mask.any():
        return []
    labels, n = ndimage.label(mask)
    conf = np.clip(0.5 + 0.5 * (score - t) / t, 0.5, 1.0)
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    totals = np.bincount(labels.ravel(), weights=np.maximum(score, t).ravel(), minlength=n + 1)
    confs = np.bincount(labels.ravel(), weights=conf.ravel(), minlength=n + 1)
    keeps, wases, inners = np.zeros(n + 1), np.zeros(n + 1), np.zeros(n + 1)
    if texture is not None and inner is not None:
        keeps = np.bincount(labels.ravel(), weights=(texture[0] * inner).ravel(), minlength=n + 1)
        wases = np.bincount(labels.ravel(), weights=(texture[1] * inner).ravel(), minlength=n + 1)
        inners = np.bincount(labels.ravel(), weights=inner.ravel(), minlength=n + 1)
    bottom = np.zeros(n + 1, dtype=bool)
    if open_bottom:  # a row of windows below: pieces on this edge may go on
        bottom[labels[-1]] = True
    out = []
    for geom, value in shapes(labels.astype("int32"), mask=labels > 0, transform=transform):
        v = int(value)
        out.append(Piece(name, shapely.geometry.shape(geom), int(counts[v]), float(totals[v]), float(confs[v]),
                         bool(bottom[v]), float(keeps[v]), float(wases[v]), int(inners[v])))
    return out
