"""A SYNTHETIC sample of forest plots (lô rừng) for Lạng Sơn, built from real bundled data.

No forest-inventory data for the province is available, so the SDI ships a clearly labelled,
deterministic sample: a Voronoi tessellation of seeded random points, clipped to the real
2025 communes, cut away from roads, rivers and settlements, with plausible attributes
(forest type, origin, species, owner, planting year) and Vietnamese inventory-style codes
(commune – tiểu khu – khoảnh – lô). Pure functions: no database, no file writing. Areas
are left to the database (VN-2000 / TM-3, EPSG:9215).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

SAMPLE_SOURCE = "Mẫu mô phỏng / synthetic sample (not survey data)"
COLUMNS = ["plot_code", "commune_code", "forest_type", "forest_type_vi", "origin", "origin_vi", "species_vi",
           "owner_type", "owner_vi", "planted_year", "source", "geometry"]
FOREST_COVER = 0.60  # share of the province the plots cover (± COVER_TOLERANCE, relative)
FIRST_GUESS, MAX_PASSES, COVER_TOLERANCE = 1.12, 4, 0.04  # seed-density calibration
RESERVE_DENSITY = 2.5  # seed density inside special-use cores, relative to elsewhere (smaller lots)
PROTECTION_SHARE = 0.30  # protection forest share by count (border band first, then by score)
BORDER_BAND_M, BORDER_COMMUNE_M = 5_000.0, 1_000.0
EXCLUSION_DEFAULT_M = 300.0  # buffer for exclusions given as lines or points
MIN_PLOT_HA = 0.5
PRECISION = 1e-7  # degrees (≈1 cm)
TK_SIDE_M, KHOANH_SIDE_M = 3_000.0, 1_000.0  # tiểu khu ≈ 900 ha, khoảnh = 100 ha
M_PER_DEG_LAT, M_PER_DEG_LON_EQUATOR = 110_574.0, 111_320.0
#: Limestone (karst) belt: Bình Gia – Bắc Sơn – Hữu Lũng (Hữu Liên) – Chi Lăng; (lon, lat) vertices.
KARST_BELT = ((106.31, 22.08), (106.34, 21.91), (106.37, 21.79), (106.37, 21.67), (106.48, 21.63), (106.56, 21.60))
KARST_BELT_M = 9_000.0

TYPE_VI = {"special_use": "Rừng đặc dụng", "protection": "Rừng phòng hộ", "production": "Rừng sản xuất"}
ORIGIN_VI = {"natural": "Rừng tự nhiên", "planted": "Rừng trồng"}
NATURAL_FOREST = ("Rừng gỗ lá rộng thường xanh", "Rừng hỗn giao gỗ – tre nứa", "Rừng trên núi đá vôi")
PLANTED = ("Keo", "Thông mã vĩ", "Hồi", "Bạch đàn", "Quế")
#: Planted-species weights (order of PLANTED) by region: east (pine), north-centre (star anise), south-west.
PLANTED_WEIGHTS = {"east": (0.30, 0.45, 0.12, 0.08, 0.05), "north": (0.30, 0.15, 0.40, 0.05, 0.10),
                   "south": (0.60, 0.15, 0.05, 0.15, 0.05)}
#: (owner_type, owner_vi, weight) by forest type; special-use goes to the reserve's board.
OWNERS = {
    "protection": (("management_board", "Ban quản lý rừng phòng hộ", 0.45), ("community", "Cộng đồng thôn", 0.30),
                   ("household", "Hộ gia đình", 0.15), ("commune_committee", "UBND xã", 0.10)),
    "production": (("household", "Hộ gia đình", 0.62), ("enterprise", "Công ty Lâm nghiệp Lạng Sơn", 0.16),
                   ("community", "Cộng đồng thôn", 0.10), ("commune_committee", "UBND xã", 0.12)),
}
NATURAL_SHARE = {"special_use": 0.97, "protection": 0.70, "production": 0.18}


class _Frame:
    """A local equirectangular metric frame (metres) anchored at the communes' south-west corner."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.origin = np.array([bounds[0], bounds[1]])
        lat0 = math.radians((bounds[1] + bounds[3]) / 2)
        self.scale = np.array([M_PER_DEG_LON_EQUATOR * math.cos(lat0), M_PER_DEG_LAT])

    def to_m(self, geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(geoms, lambda c: (c - self.origin) * self.scale)

    def to_deg(self, geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(geoms, lambda c: c / self.scale + self.origin)


def _area_ha(geoms: np.ndarray) -> np.ndarray:
    """Approximate areas (ha) of EPSG:4326 geometries, good to well under 1 % at this latitude."""
    lat = shapely.get_coordinates(shapely.centroid(geoms))[:, 1]
    return shapely.area(geoms) * M_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat)) * M_PER_DEG_LAT / 1e4


def generate_forest_plots(
    communes: gpd.GeoDataFrame,
    *,
    exclusions: gpd.GeoSeries | None = None,
    reserves: Sequence[tuple[str, float, float, float]] = (),
    border: gpd.GeoSeries | None = None,
    target: int = 40_000,
    seed: int = 2026,
) -> gpd.GeoDataFrame:
    """Generate a deterministic synthetic sample of forest plots.

    Args:
        communes: Communes in EPSG:4326 with columns ``code`` and ``geometry``.
        exclusions: Geometries (EPSG:4326) where no forest is generated: polygons are used as
            given, lines and points are buffered by ``EXCLUSION_DEFAULT_M``.
        reserves: Special-use forest cores as ``(name, lon, lat, radius_m)``.
        border: The national border line (EPSG:4326); plots within 5 km are protection forest.
        target: The number of plots wanted (the result has at most this many, normally exactly).
        seed: Random seed; the same inputs and seed give the same codes and geometries.

    Returns:
        The plots (EPSG:4326, MultiPolygon) with the columns in ``COLUMNS``, sorted by plot code.
    """
    if target <= 0:
        return gpd.GeoDataFrame({c: [] for c in COLUMNS[:-1]}, geometry=[], crs="EPSG:4326")
    communes = communes.to_crs("EPSG:4326") if communes.crs else communes
    frame = _Frame(communes.total_bounds)
    geoms, codes = _disjoint_communes(communes)
    centres = frame.to_m(shapely.points(np.array([r[1:3] for r in reserves], dtype=float).reshape(-1, 2)))
    discs = frame.to_deg(shapely.buffer(centres, [r[3] for r in reserves], quad_segs=16))  # reserve circles
    excluded = _exclusion_union(exclusions, frame)
    zones, zone_code, zone_reserve = _zones(geoms, codes, excluded, discs)
    near_tree = None if excluded is None else _segment_tree(frame.to_m(np.array([excluded.boundary]))[0])
    province_m = frame.to_m(np.array([shapely.union_all(geoms)]))[0]
    scale = FIRST_GUESS
    for _ in range(MAX_PASSES):  # plots shrink when cut by communes/exclusions: adjust the seed density
        rng = np.random.default_rng(seed)
        parts, zone_idx, x, y = _forest(province_m, zones, zone_reserve, discs, near_tree, frame,
                                        scale * province_m.area * FOREST_COVER / target, target, rng)
        cover = _area_ha(parts).sum() * 1e4 / province_m.area
        if abs(cover / FOREST_COVER - 1) <= COVER_TOLERANCE:
            break
        scale *= (FOREST_COVER / cover) ** 1.25  # the cover responds a little less than linearly
    reserve = zone_reserve[zone_idx]
    plots = _attributes(x, y, reserve, [r[0] for r in reserves], _border(border, geoms, codes, frame),
                        zone_code[zone_idx], frame, rng)
    plots.insert(0, "plot_code", _plot_codes(plots["commune_code"].to_numpy(), x, y))
    plots["source"] = SAMPLE_SOURCE
    result = gpd.GeoDataFrame(plots, geometry=shapely.multipolygons(parts[:, None]), crs="EPSG:4326")
    return result.sort_values("plot_code", ignore_index=True)[COLUMNS]


def load_inputs(data_dir: Path) -> dict:
    """Read the bundled data under ``data_dir`` into keyword arguments for ``generate_forest_plots``.

    Exclusions: national roads and railway (300 m), rivers (200 m), OSM points of interest
    (500 m) and the Lạng Sơn city and Đồng Đăng town centres (3 km), buffered in UTM 48N.
    Reserves: Hữu Liên nature reserve (a circle of its 8,293.4 ha) and Mẫu Sơn (4 km).
    """
    data_dir = Path(data_dir)
    communes = gpd.read_file(data_dir / "admin/langson_communes_2025.geojson")[["code", "geometry"]]
    places = gpd.read_file(data_dir / "poi/langson_key_places_wikipedia.geojson").set_index("id")
    towns = places.loc[["lang_son_city", "dong_dang_town"]].geometry
    buffers = [(gpd.read_file(data_dir / "transport/langson_roads_railways_national.geojson").geometry, 300.0),
               (gpd.read_file(data_dir / "hydro/rivers_wdbii_gshhg_langson_region.geojson").geometry, 200.0),
               (gpd.read_file(data_dir / "poi/langson_osm_poi_hotosm.geojson").geometry, 500.0), (towns, 3_000.0)]
    exclusions = pd.concat([g.to_crs("EPSG:32648").buffer(m, quad_segs=8) for g, m in buffers], ignore_index=True)
    huu_lien, mau_son = places.loc["huu_lien_nr"].geometry, places.loc["mau_son_peak"].geometry
    reserves = [("Khu bảo tồn thiên nhiên Hữu Liên", huu_lien.x, huu_lien.y, math.sqrt(8_293.4e4 / math.pi)),
                ("Khu rừng đặc dụng Mẫu Sơn", mau_son.x, mau_son.y, 4_000.0)]
    border = gpd.read_file(data_dir / "admin/vn_china_border_langson_derived.geojson").geometry
    return {"communes": communes, "exclusions": gpd.GeoSeries(exclusions).to_crs("EPSG:4326"),
            "reserves": reserves, "border": border}


def _disjoint_communes(communes: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Valid commune polygons with slight overlaps given to the first commune (by code)."""
    ordered = communes.sort_values("code", kind="stable")
    geoms = shapely.make_valid(ordered.geometry.to_numpy())
    tree = shapely.STRtree(geoms)
    for i, j in zip(*tree.query(geoms, predicate="overlaps"), strict=True):
        if i > j:
            geoms[i] = shapely.difference(geoms[i], geoms[j], grid_size=PRECISION)
    return geoms, ordered["code"].astype(str).to_numpy()


def _exclusion_union(exclusions: gpd.GeoSeries | None, frame: _Frame) -> shapely.Geometry | None:
    """All exclusions as one geometry (lines and points buffered by ``EXCLUSION_DEFAULT_M``)."""
    if exclusions is None or len(exclusions) == 0:
        return None
    geoms = shapely.make_valid(exclusions.to_crs("EPSG:4326").to_numpy())
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    geoms[~polygonal] = frame.to_deg(shapely.buffer(frame.to_m(geoms[~polygonal]), EXCLUSION_DEFAULT_M))
    return shapely.union_all(geoms)


def _cells(province_m: shapely.Geometry, discs_m: np.ndarray, mean_m2: float,
           rng: np.random.Generator) -> np.ndarray:
    """Voronoi cells (metric frame) of random seeds in the province, denser in the reserves."""
    minx, miny, maxx, maxy = province_m.bounds
    n = max(int((maxx - minx) * (maxy - miny) / mean_m2), 1)
    seeds = [rng.uniform((minx, miny), (maxx, maxy), size=(n, 2))]
    for disc in discs_m:  # extra seeds: smaller lots in the special-use cores
        m, radius = int(disc.area * (RESERVE_DENSITY - 1) / mean_m2), math.sqrt(disc.area / math.pi)
        r, theta = radius * np.sqrt(rng.uniform(size=m)), rng.uniform(0, 2 * math.pi, size=m)
        seeds.append(shapely.get_coordinates(disc.centroid) + np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
    xy = np.vstack(seeds)
    shapely.prepare(province_m)
    xy = xy[shapely.contains_xy(province_m, xy[:, 0], xy[:, 1])]
    extent = shapely.box(minx - 1e4, miny - 1e4, maxx + 1e4, maxy + 1e4)
    return shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=extent))


def _zones(geoms: np.ndarray, codes: np.ndarray, excluded: shapely.Geometry | None,
           discs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The communes minus exclusions, split at the reserve circles: (geometry, code, reserve or -1)."""
    allowed = geoms if excluded is None else shapely.difference(geoms, excluded)
    inside: list[np.ndarray] = []
    for disc in discs:
        inside.append(shapely.intersection(allowed, disc))
        allowed = shapely.difference(allowed, disc)
    zones = np.concatenate([*inside, allowed])
    zone_code = np.tile(codes, len(discs) + 1)
    zone_reserve = np.repeat(np.append(np.arange(len(discs)), -1), len(codes))
    keep = ~shapely.is_empty(zones)
    return zones[keep], zone_code[keep], zone_reserve[keep]


def _clip(cells: np.ndarray, zones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells cut by the zones into single polygons of at least ``MIN_PLOT_HA`` (rounded to 1e-7°)."""
    cells = _round(cells)
    cell_idx, zone_idx = shapely.STRtree(zones).query(cells)
    shapely.prepare(zones)
    inside = shapely.contains_properly(zones[zone_idx], cells[cell_idx])
    edge = ~inside & shapely.intersects(zones[zone_idx], cells[cell_idx])
    pieces = np.concatenate([cells[cell_idx[inside]],
                             shapely.intersection(cells[cell_idx[edge]], zones[zone_idx[edge]], grid_size=PRECISION)])
    piece_zone = np.concatenate([zone_idx[inside], zone_idx[edge]])
    parts, which = shapely.get_parts(pieces, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, part_zone = parts[keep], piece_zone[which[keep]]
    big = _area_ha(parts) >= MIN_PLOT_HA
    return parts[big], part_zone[big]


def _round(geoms: np.ndarray) -> np.ndarray:
    """Coordinates rounded to ``PRECISION`` (as GEOS does); the rare invalid result is snap-rounded instead."""
    rounded = shapely.transform(geoms, lambda c: np.round(c * (1 / PRECISION)) / (1 / PRECISION))
    bad = ~shapely.is_valid(rounded)
    rounded[bad] = shapely.set_precision(geoms[bad], PRECISION)
    return rounded


def _field(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, waves: int = 32) -> np.ndarray:
    """A smooth random field (unit variance): random waves of 3–40 km, longer ones stronger."""
    angle, wavelength = rng.uniform(0, 2 * math.pi, waves), np.exp(rng.uniform(math.log(3e3), math.log(4e4), waves))
    phase, amplitude = rng.uniform(0, 2 * math.pi, waves), np.sqrt(wavelength)
    k = 2 * math.pi / wavelength
    arg = np.outer(x, k * np.cos(angle)) + np.outer(y, k * np.sin(angle)) + phase
    return (np.cos(arg) * amplitude).sum(axis=1) / math.sqrt((amplitude**2).sum() / 2)


def _forest(province_m: shapely.Geometry, zones: np.ndarray, zone_reserve: np.ndarray, discs: np.ndarray,
            near_tree: shapely.STRtree | None, frame: _Frame, mean_m2: float, target: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``target`` forest plots (polygon, zone, x, y): reserves first, then clustered away from settlements."""
    parts, zone_idx = _clip(frame.to_deg(_cells(province_m, frame.to_m(discs), mean_m2, rng)), zones)
    x, y = ((shapely.get_coordinates(shapely.point_on_surface(parts)) - frame.origin) * frame.scale).T
    score = _field(x, y, rng) + 0.5 * rng.standard_normal(len(x))
    if near_tree is not None:
        score += 1.5 * np.minimum(_distance(near_tree, x, y) / 3_000.0, 1.0)
    score[zone_reserve[zone_idx] >= 0] = np.inf
    keep = np.sort(np.argsort(-score, kind="stable")[:target])
    return parts[keep], zone_idx[keep], x[keep], y[keep]


def _segment_tree(lines_m: shapely.Geometry) -> shapely.STRtree:
    """An index of the two-point segments of linework (fast exact distances to complex lines)."""
    coords, part = shapely.get_coordinates(shapely.get_parts(lines_m), return_index=True)
    same = part[:-1] == part[1:]
    return shapely.STRtree(shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1)))


def _distance(tree: shapely.STRtree, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance from each point (metric frame) to the nearest indexed segment."""
    (src, _), dist = tree.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
    out = np.full(len(x), np.inf)
    out[src] = dist
    return out


def _border(border: gpd.GeoSeries | None, geoms: np.ndarray, codes: np.ndarray,
            frame: _Frame) -> tuple[shapely.STRtree | None, np.ndarray]:
    """The border's segment index and the codes of the communes along it (north and east)."""
    if border is None or len(border) == 0:
        return None, np.array([], dtype=object)
    line = shapely.union_all(border.to_crs("EPSG:4326").to_numpy())
    tree = _segment_tree(frame.to_m(np.array([shapely.boundary(line) if line.area > 0 else line]))[0])
    near, _ = tree.query(frame.to_m(geoms), predicate="dwithin", distance=BORDER_COMMUNE_M)
    return tree, codes[np.unique(near)]


def _attributes(x: np.ndarray, y: np.ndarray, reserve: np.ndarray, reserve_names: list[str],
                border: tuple[shapely.STRtree | None, np.ndarray], commune: np.ndarray, frame: _Frame,
                rng: np.random.Generator) -> pd.DataFrame:
    """Forest type, origin, species, owner and planting year of each plot."""
    ftype = _forest_types(x, y, reserve, border[0], np.isin(commune, border[1]), rng)
    natural = rng.uniform(size=len(x)) < pd.Series(ftype).map(NATURAL_SHARE).to_numpy()
    origin = np.where(natural, "natural", "planted")
    species = _species(x, y, natural, frame, rng)
    owner_type, owner_vi = _owners(ftype, reserve, reserve_names, rng)
    slow = np.isin(species, ("Thông mã vĩ", "Hồi", "Quế"))
    years = np.where(slow, rng.integers(1995, 2021, len(x)), rng.integers(2008, 2025, len(x)))
    return pd.DataFrame({
        "commune_code": commune, "forest_type": ftype, "forest_type_vi": [TYPE_VI[t] for t in ftype],
        "origin": origin, "origin_vi": [ORIGIN_VI[o] for o in origin], "species_vi": species,
        "owner_type": owner_type, "owner_vi": owner_vi,
        "planted_year": pd.Series(years, dtype="Int64").mask(natural),
    })


def _forest_types(x: np.ndarray, y: np.ndarray, reserve: np.ndarray, border: shapely.STRtree | None,
                  border_commune: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Special-use in reserves; protection in the border band, then the best-scored up to the share."""
    dist = np.full(len(x), np.inf) if border is None else _distance(border, x, y)
    ftype = np.where(reserve >= 0, "special_use", np.where(dist <= BORDER_BAND_M, "protection", "production"))
    score = _field(x, y, rng) + 1.5 * border_commune + 0.4 * rng.standard_normal(len(x))
    score[ftype != "production"] = -np.inf
    quota = max(round(PROTECTION_SHARE * len(x)) - int((ftype == "protection").sum()), 0)
    ftype[np.argsort(-score, kind="stable")[:quota]] = "protection"
    return ftype


def _species(x: np.ndarray, y: np.ndarray, natural: np.ndarray, frame: _Frame,
             rng: np.random.Generator) -> np.ndarray:
    """Natural forest kind (karst forest in the limestone belt) or planted species by region."""
    belt = shapely.buffer(frame.to_m(shapely.linestrings(np.array(KARST_BELT))), KARST_BELT_M)
    shapely.prepare(belt)
    karst = shapely.contains_xy(belt, x, y)
    draw = rng.uniform(size=(2, len(x)))
    kind = np.where(draw[0] < np.where(karst, 0.7, 0.03), NATURAL_FOREST[2],
                    np.where(draw[1] < 0.7, NATURAL_FOREST[0], NATURAL_FOREST[1]))
    lon, lat = x / frame.scale[0] + frame.origin[0], y / frame.scale[1] + frame.origin[1]
    region = np.where(lon > 106.85, "east", np.where(lat > 21.9, "north", "south"))
    planted = np.empty(len(x), dtype=object)
    for name, weights in PLANTED_WEIGHTS.items():
        mask = region == name
        planted[mask] = rng.choice(PLANTED, size=int(mask.sum()), p=weights)
    return np.where(natural, kind, planted).astype(object)


def _owners(ftype: np.ndarray, reserve: np.ndarray, reserve_names: list[str],
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Owner type and label: the reserve's board for special-use, weighted draws otherwise."""
    owner_type, owner_vi = np.empty(len(ftype), dtype=object), np.empty(len(ftype), dtype=object)
    for kind, options in OWNERS.items():
        mask = ftype == kind
        pick = rng.choice(len(options), size=int(mask.sum()), p=[o[2] for o in options])
        owner_type[mask] = [options[i][0] for i in pick]
        owner_vi[mask] = [options[i][1] for i in pick]
    special = ftype == "special_use"
    owner_type[special] = "management_board"
    owner_vi[special] = [f"Ban quản lý {reserve_names[k]}" for k in reserve[special]]
    return owner_type, owner_vi


def _plot_codes(commune: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Inventory codes: tiểu khu numbered per commune from the north-west, khoảnh by position, lô in order."""
    tk_row, tk_col = np.floor(y / TK_SIDE_M), np.floor(x / TK_SIDE_M)
    per_side = round(TK_SIDE_M / KHOANH_SIDE_M)
    k_row = np.clip(np.floor((y - tk_row * TK_SIDE_M) / KHOANH_SIDE_M), 0, per_side - 1)
    k_col = np.clip(np.floor((x - tk_col * TK_SIDE_M) / KHOANH_SIDE_M), 0, per_side - 1)
    df = pd.DataFrame({"c": commune, "tk_key": -tk_row * 1e6 + tk_col, "y": -y, "x": x,
                       "k": ((per_side - 1 - k_row) * per_side + k_col + 1).astype(int)})
    df["tk"] = df.groupby("c")["tk_key"].rank(method="dense").astype(int)
    df = df.sort_values(["c", "tk", "k", "y", "x"], kind="stable")
    df["lo"] = df.groupby(["c", "tk", "k"]).cumcount() + 1
    df = df.sort_index()
    return np.array([f"{c}-TK{t:03d}-K{k:02d}-L{lo:03d}" for c, t, k, lo in
                     zip(df["c"], df["tk"], df["k"], df["lo"], strict=True)], dtype=object)
