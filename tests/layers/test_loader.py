"""Loading files into layers: every format, VN-2000, upsert, and every kind of bad input.

Each bad input must give a precise error and leave the table (and the load log) exactly
as it was.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import text

from layers.loader import load_vector
from sdi.errors import (
    FileTooLargeError,
    InvalidInputError,
    UnsupportedFormatError,
    ValidationFailedError,
)

# Real places in Lạng Sơn (lon, lat): city centre, Đồng Đăng, Mẫu Sơn.
CITY = (106.75778, 21.84778)
DONG_DANG = (106.69667, 21.94583)
MAU_SON = (107.004261, 21.877111)


def gates(prefix: str, points=(CITY, DONG_DANG, MAU_SON), crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    n = len(points)
    return gpd.GeoDataFrame(
        {"code": [f"{prefix}_{i}" for i in range(n)],
         "name_vi": [f"Điểm thử {i} – Lạng Sơn" for i in range(n)],
         "name_en": [f"Test point {i}" for i in range(n)],
         "gate_type": ["secondary"] * n},
        geometry=gpd.points_from_xy([p[0] for p in points], [p[1] for p in points]), crs="EPSG:4326",
    ).to_crs(crs)


def plots(prefix: str, centre=CITY, n: int = 3, size_deg: float = 0.002) -> gpd.GeoDataFrame:
    boxes = [shapely.box(centre[0] + i * 0.01, centre[1], centre[0] + i * 0.01 + size_deg, centre[1] + size_deg)
             for i in range(n)]
    return gpd.GeoDataFrame(
        {"plot_code": [f"{prefix}-{i:03d}" for i in range(n)], "commune_code": ["05977"] * n,
         "forest_type": ["production"] * n, "owner_vi": ["Hộ gia đình"] * n},
        geometry=boxes, crs="EPSG:4326",
    )


def write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """Write ``frame`` in the format named by the suffix (.zip = zipped Shapefile)."""
    if path.suffix == ".csv":
        out = pd.DataFrame(frame.drop(columns="geometry"))
        out["lon"], out["lat"] = frame.geometry.x, frame.geometry.y
        out.to_csv(path, index=False)
    elif path.suffix == ".zip":
        shp_dir = path.with_suffix("")
        shp_dir.mkdir()
        pyogrio.write_dataframe(frame, shp_dir / "data.shp")
        with zipfile.ZipFile(path, "w") as archive:
            for part in shp_dir.iterdir():
                archive.write(part, part.name)
    else:
        driver = {".geojson": "GeoJSON", ".gpkg": "GPKG", ".kml": "KML"}[path.suffix]
        pyogrio.write_dataframe(frame, path, driver=driver)
    return path


def rows(engine, table: str, key: str, prefix: str) -> dict:
    with engine.connect() as conn:
        result = conn.execute(
            text(f"SELECT {key}, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "  # noqa: S608
                 f"FROM {table} WHERE {key} LIKE :p ORDER BY 1").bindparams(p=f"{prefix}%")
        ).all()
    return {r[0]: (r[1], r[2]) for r in result}


@pytest.fixture()
def load(engine, settings, catalog):
    def run(layer: str, path: Path, **kwargs):
        return load_vector(path, catalog[layer], engine=engine, settings=settings, **kwargs)

    return run


# ---- every format loads ---------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".zip", ".csv", ".kml"])
def test_each_format_loads(load, engine, tmp_path, suffix):
    prefix = f"fmt{suffix[1:]}"
    path = write(gates(prefix), tmp_path / f"gates{suffix}")
    if suffix == ".kml":  # KML keeps only name/description: give the other columns as ExtendedData
        frame = gates(prefix)
        pyogrio.write_dataframe(frame, path, driver="LIBKML" if "LIBKML" in pyogrio.list_drivers() else "KML")
    report = load("border_gates", path)
    assert report.committed and report.counts.read == 3 and report.counts.inserted == 3
    got = rows(engine, "border_gates", "code", prefix)
    assert len(got) == 3
    assert got[f"{prefix}_0"] == pytest.approx(CITY, abs=1e-7)
    with engine.connect() as conn:
        name = conn.execute(text("SELECT name_vi FROM border_gates WHERE code = :c")
                            .bindparams(c=f"{prefix}_0")).scalar_one()
    assert name == "Điểm thử 0 – Lạng Sơn"  # Vietnamese text survives every format


# ---- VN-2000 transformed exactly -------------------------------------------------------
@pytest.mark.parametrize("epsg", [9215, 3405, 4756])
def test_vn2000_round_trip_under_one_metre(load, engine, tmp_path, epsg):
    prefix = f"vn{epsg}"
    path = write(gates(prefix, crs=f"EPSG:{epsg}"), tmp_path / "vn2000.gpkg")
    load("border_gates", path)
    stored = rows(engine, "border_gates", "code", prefix)
    # Round trip: stored WGS 84 → back to VN-2000 must match the file within 1 m.
    back = Transformer.from_crs(4326, epsg, always_xy=True)
    source = gates(prefix, crs=f"EPSG:{epsg}")
    for code, geom in zip(source.code, source.geometry, strict=True):
        x, y = back.transform(*stored[code])
        if epsg == 4756:  # geographic: compare in metres via TM-3
            tm3 = Transformer.from_crs(4756, 9215, always_xy=True)
            (x, y), (gx, gy) = tm3.transform(x, y), tm3.transform(geom.x, geom.y)
        else:
            gx, gy = geom.x, geom.y
        assert np.hypot(x - gx, y - gy) < 1.0
    # And the WGS 84 position is the real one (VN-2000 is shifted ~ 100s of m from WGS 84 grid).
    assert stored[f"{prefix}_0"] == pytest.approx(CITY, abs=2e-5)


def test_crs_option_for_file_without_crs(load, engine, tmp_path):
    frame = gates("nocrs_ok", crs="EPSG:9215")
    path = tmp_path / "tm3.zip"
    write(frame, path)
    _strip_prj(path)
    report = load("border_gates", path, crs="EPSG:9215")
    assert report.committed
    assert rows(engine, "border_gates", "code", "nocrs_ok")["nocrs_ok_0"] == pytest.approx(CITY, abs=2e-5)


# ---- upsert, replace, fail, dry run ------------------------------------------------------
def test_upsert_updates_by_key_and_adds_new(load, engine, tmp_path):
    load("forest_plots", write(plots("UPS"), tmp_path / "a.gpkg"))
    changed = plots("UPS", n=4)
    changed.loc[0, "owner_vi"] = "Cộng đồng thôn Nà Sác"
    report = load("forest_plots", write(changed, tmp_path / "b.gpkg"))
    assert (report.counts.inserted, report.counts.updated) == (1, 3)
    with engine.connect() as conn:
        owners = conn.execute(text("SELECT plot_code, owner_vi, area_ha FROM forest_plots "
                                   "WHERE plot_code LIKE 'UPS-%' ORDER BY 1")).all()
    assert len(owners) == 4 and owners[0][1] == "Cộng đồng thôn Nà Sác"
    # area in ha computed in VN-2000 / TM-3 107°15′ by the database
    box = Transformer.from_crs(4326, 9215, always_xy=True)
    ring = shapely.transform(changed.geometry[0], lambda xy: np.column_stack(box.transform(xy[:, 0], xy[:, 1])))
    assert owners[0][2] == pytest.approx(ring.area / 10_000, rel=1e-4)


def test_fail_mode_refuses_existing_keys(load, snapshot, tmp_path):
    load("forest_plots", write(plots("FAILMODE"), tmp_path / "a.gpkg"))
    before = snapshot("forest_plots")
    with pytest.raises(ValidationFailedError) as exc:
        load("forest_plots", write(plots("FAILMODE"), tmp_path / "b.gpkg"), if_exists="fail")
    assert [i.code for i in exc.value.report.errors()] == ["key_exists"]
    assert snapshot("forest_plots") == before


def test_validate_only_writes_nothing(load, snapshot, tmp_path):
    before = snapshot("forest_plots")
    report = load("forest_plots", write(plots("DRY"), tmp_path / "a.gpkg"), dry_run=True)
    assert report.ok and not report.committed and report.counts.inserted == 3
    assert snapshot("forest_plots") == before


def test_invalid_geometry_is_repaired_with_a_note(load, engine, tmp_path):
    frame = plots("BOWTIE", n=1)
    x, y = CITY
    frame.loc[0, "geometry"] = shapely.Polygon([(x, y), (x + 0.002, y + 0.002), (x + 0.002, y), (x, y + 0.002)])
    report = load("forest_plots", write(frame, tmp_path / "bowtie.geojson"))
    assert report.committed and report.counts.repaired == 1
    assert any(i.code == "geometry_repaired" and i.rows == [1] for i in report.issues)
    with engine.connect() as conn:
        valid = conn.execute(text("SELECT ST_IsValid(geom) FROM forest_plots WHERE plot_code = 'BOWTIE-000'")).scalar()
    assert valid


def test_streams_in_batches(engine, settings, catalog, tmp_path):
    many = gpd.GeoDataFrame(
        pd.concat([plots(f"BATCH{i:02d}", centre=(CITY[0] - 0.3, CITY[1] - 0.2 + i * 0.003), n=30)
                   for i in range(50)], ignore_index=True), crs="EPSG:4326")
    path = write(many, tmp_path / "many.gpkg")
    calls: list[int] = []
    small = settings.model_copy(update={"load_batch_size": 200})
    report = load_vector(path, catalog["forest_plots"], engine=engine, settings=small,
                         progress=calls.append, dry_run=True)
    assert report.counts.read == 1500 and len(calls) == 8 and max(calls) == 200


# ---- bad input: precise error, nothing changed --------------------------------------------
def _strip_prj(zip_path: Path) -> None:
    with zipfile.ZipFile(zip_path) as src:
        parts = {n: src.read(n) for n in src.namelist() if not n.endswith(".prj")}
    with zipfile.ZipFile(zip_path, "w") as dst:
        for name, data in parts.items():
            dst.writestr(name, data)


def _empty(tmp: Path) -> Path:
    (tmp / "empty.geojson").write_bytes(b"")
    return tmp / "empty.geojson"


def _truncated(tmp: Path) -> Path:
    full = write(plots("TRUNC", n=50), tmp / "full.geojson").read_bytes()
    (tmp / "truncated.geojson").write_bytes(full[: len(full) // 2])
    return tmp / "truncated.geojson"


def _corrupt_gpkg(tmp: Path) -> Path:
    (tmp / "corrupt.gpkg").write_bytes(b"SQLite format 3\x00" + b"\x13" * 4000)
    return tmp / "corrupt.gpkg"


def _unknown_format(tmp: Path) -> Path:
    (tmp / "plots.xlsx").write_bytes(b"PK\x03\x04 not really a spreadsheet")
    return tmp / "plots.xlsx"


def _not_geo(tmp: Path) -> Path:
    (tmp / "notes.geojson").write_text("Đây không phải GeoJSON / this is not GeoJSON", encoding="utf-8")
    return tmp / "notes.geojson"


def _missing_crs(tmp: Path) -> Path:
    path = write(plots("NOCRS").to_crs(9215), tmp / "noprj.zip")
    _strip_prj(path)
    return path


def _wrong_crs_metres_as_degrees(tmp: Path) -> Path:
    # VN-2000 / TM-3 metres written into a GeoJSON, which declares WGS 84 degrees.
    frame = plots("WRONGCRS").to_crs(9215).set_crs(4326, allow_override=True)
    path = tmp / "metres.geojson"
    pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    return path


def _wrong_projection(tmp: Path) -> Path:
    # Data in TM-3 107°15′ but labelled UTM 48N: lands ~200 km west, outside the province.
    frame = plots("WRONGPROJ").to_crs(9215).set_crs(3405, allow_override=True)
    return write(frame, tmp / "mislabelled.gpkg")


def _swapped(tmp: Path) -> Path:
    frame = plots("SWAP")
    frame["geometry"] = shapely.transform(frame.geometry.values, lambda xy: xy[:, ::-1])
    path = tmp / "swapped.geojson"
    pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    return path


def _outside(tmp: Path) -> Path:
    return write(plots("HANOI", centre=(105.85, 21.03)), tmp / "hanoi.gpkg")


def _empty_geometry(tmp: Path) -> Path:
    frame = plots("EMPTYGEOM")
    path = tmp / "emptygeom.geojson"
    data = json.loads(frame.to_json())
    data["features"][1]["geometry"] = {"type": "Polygon", "coordinates": []}
    data["features"][2]["geometry"] = None
    path.write_text(json.dumps(data))
    return path


def _wrong_type(tmp: Path) -> Path:
    frame = plots("POINTS")
    frame["geometry"] = frame.geometry.centroid
    return write(frame, tmp / "points.gpkg")


def _missing_column(tmp: Path) -> Path:
    return write(plots("NOOWNER").drop(columns="owner_vi"), tmp / "noowner.gpkg")


def _missing_value(tmp: Path) -> Path:
    frame = plots("NULLOWNER")
    frame.loc[1, "owner_vi"] = None
    return write(frame, tmp / "nullowner.gpkg")


def _duplicate_keys(tmp: Path) -> Path:
    frame = plots("DUP", n=4)
    frame.loc[3, "plot_code"] = "DUP-001"
    return write(frame, tmp / "dup.gpkg")


def _bad_value(tmp: Path) -> Path:
    frame = plots("BADVAL")
    frame["planted_year"] = ["2001", "hai nghìn", "2010"]
    return write(frame, tmp / "badvalue.gpkg")


def _rule_broken(tmp: Path) -> Path:
    frame = plots("RULE")
    frame.loc[0, "forest_type"] = "jungle"
    return write(frame, tmp / "rule.gpkg")


BAD_INPUTS = [
    # (builder, expected exception, expected report code or message fragment)
    (_empty, InvalidInputError, "empty"),
    (_truncated, InvalidInputError, "corrupt"),
    (_corrupt_gpkg, InvalidInputError, "cannot read"),
    (_unknown_format, UnsupportedFormatError, "unsupported format"),
    (_not_geo, InvalidInputError, "cannot read"),
    (_missing_crs, InvalidInputError, "no CRS"),
    (_wrong_crs_metres_as_degrees, ValidationFailedError, "wrong_crs"),
    (_wrong_projection, ValidationFailedError, "crs_hint"),
    (_swapped, ValidationFailedError, "coordinates_swapped"),
    (_outside, ValidationFailedError, "outside_province"),
    (_empty_geometry, ValidationFailedError, "empty_geometry"),
    (_wrong_type, ValidationFailedError, "wrong_geometry_type"),
    (_missing_column, ValidationFailedError, "missing_column"),
    (_missing_value, ValidationFailedError, "missing_value"),
    (_duplicate_keys, ValidationFailedError, "duplicate_key"),
    (_bad_value, ValidationFailedError, "bad_value"),
    (_rule_broken, ValidationFailedError, "constraint_violated"),
]


@pytest.mark.parametrize(("build", "error", "expected"), BAD_INPUTS, ids=[b[0].__name__[1:] for b in BAD_INPUTS])
def test_bad_input_is_refused_and_changes_nothing(load, snapshot, tmp_path, build, error, expected):
    path = build(tmp_path)
    before = snapshot("forest_plots")
    with pytest.raises(error) as exc:
        load("forest_plots", path)
    if isinstance(exc.value, ValidationFailedError):
        codes = [i.code for i in exc.value.report.errors()]
        assert expected in codes, codes
        assert "nothing was written" in exc.value.detail
    else:
        assert expected in exc.value.detail
    assert snapshot("forest_plots") == before


def test_swapped_and_outside_name_the_rows(load, tmp_path):
    with pytest.raises(ValidationFailedError) as exc:
        load("forest_plots", _swapped(tmp_path))
    issue = next(i for i in exc.value.report.issues if i.code == "coordinates_swapped")
    assert issue.count == 3 and issue.rows == [1, 2, 3]


def test_duplicate_report_names_key_and_rows(load, tmp_path):
    with pytest.raises(ValidationFailedError) as exc:
        load("forest_plots", _duplicate_keys(tmp_path))
    issue = next(i for i in exc.value.report.issues if i.code == "duplicate_key")
    assert issue.keys == ["DUP-001"] and issue.rows == [2, 4]


def test_file_over_the_size_limit_is_refused_unread(engine, settings, catalog, snapshot, tmp_path):
    # A sparse 2 GiB file: refused by size before GDAL reads a byte.
    path = tmp_path / "huge.geojson"
    with path.open("wb") as fh:
        fh.truncate(2 * 1024**3 + 1)
    before = snapshot("forest_plots")
    limited = settings.model_copy(update={"max_load_bytes": 2 * 1024**3})
    with pytest.raises(FileTooLargeError, match="over the limit"):
        load_vector(path, catalog["forest_plots"], engine=engine, settings=limited)
    assert snapshot("forest_plots") == before


def test_crs_option_conflicting_with_file_is_refused(load, tmp_path):
    path = write(plots("CONFLICT").to_crs(3405), tmp_path / "utm.gpkg")
    with pytest.raises(InvalidInputError, match="declares EPSG:3405"):
        load("forest_plots", path, crs="EPSG:9215")


def test_multi_layer_file_needs_source_layer(load, tmp_path):
    path = write(plots("ML1"), tmp_path / "two.gpkg")
    pyogrio.write_dataframe(plots("ML2"), path, layer="second", driver="GPKG", append=True)
    with pytest.raises(InvalidInputError, match="--source-layer"):
        load("forest_plots", path)
    assert load("forest_plots", path, source_layer="second").counts.inserted == 3


def test_integer_column_with_gaps_loads(load, engine, tmp_path):
    # GDAL/Arrow hand integer columns with nulls to pandas as floats (2021.0): still integers.
    frame = plots("GAPS")
    frame["planted_year"] = [2021, None, 1999]
    report = load("forest_plots", write(frame, tmp_path / "gaps.gpkg"))
    assert report.committed
    with engine.connect() as conn:
        years = conn.execute(text("SELECT planted_year FROM forest_plots WHERE plot_code LIKE 'GAPS-%' "
                                  "ORDER BY plot_code")).scalars().all()
    assert years == [2021, None, 1999]
