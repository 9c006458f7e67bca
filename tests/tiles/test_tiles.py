"""Raster tiles of stored items: images at the right place, masks, bands, expressions, indices,
TileJSON, WMTS, statistics, point values, previews, crops and the mosaic by date.

Images are decoded (PIL, rasterio) and compared with the source COGs' pixels.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, reproject

from tests.tiles.helpers import TMS, geotiff, is_problem, pixel_of, rgba, tile_of

Z = 20


def tile_url(item_id: str, tile, ext: str = "png") -> str:
    return f"/rasters/{item_id}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.{ext}"


def ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    red, nir = red.astype("float64"), nir.astype("float64")
    return (nir - red) / (nir + red)


# --- RGB tiles ---------------------------------------------------------------------------------

def test_rgb_tile_at_the_right_place_is_not_blank_and_the_mask_is_transparent(client, rasters):
    r = rasters["rgb_old"]
    inside = r.lonlat(512, 300)  # vegetation (west half), inside the disc
    corner = r.lonlat(8, 8)  # inside the file, outside the disc: masked
    for lonlat, expect_alpha in ((inside, 255), (corner, 0)):
        tile = tile_of(*lonlat, Z)
        resp = client.get(tile_url(r.id, tile))
        assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
        img = rgba(resp.content)
        row, col = pixel_of(*lonlat, tile)
        assert img[row, col, 3] == expect_alpha
        if expect_alpha:
            red, green, blue = (int(v) for v in img[row, col, :3])
            expected = r.data[:, 512, 300].astype(int)
            assert np.abs(np.array([red, green, blue]) - expected).max() <= 12  # JPEG in the COG
            assert green > red + 50  # green vegetation, not blank
    whole = tile_of(*r.lonlat(512, 512), 18)  # the whole field: the disc, transparent around it
    alpha = rgba(client.get(tile_url(r.id, whole)).content)[..., 3]
    assert 0.02 < (alpha == 255).mean() < 0.5 and set(np.unique(alpha)) == {0, 255}


@pytest.mark.parametrize(("ext", "media"), [("png", "image/png"), ("webp", "image/webp"), ("jpg", "image/jpg"),
                                            ("jpeg", "image/jpeg")])
def test_tile_formats(client, rasters, ext, media):
    r = rasters["rgb_old"]
    tile = tile_of(*r.lonlat(512, 300), Z)
    resp = client.get(tile_url(r.id, tile, ext))
    assert resp.status_code == 200 and resp.headers["content-type"] == media
    img = rgba(resp.content)
    assert img.shape == (256, 256, 4) and img[..., :3].std() > 5


def test_band_selection_rescale_and_colour_map(client, rasters):
    r = rasters["rgb_old"]
    lonlat = r.lonlat(512, 300)
    tile = tile_of(*lonlat, Z)
    row, col = pixel_of(*lonlat, tile)
    green = client.get(tile_url(r.id, tile), params={"bidx": 2})
    grey = rgba(green.content)[row, col]
    assert green.status_code == 200 and grey[0] == grey[1] == grey[2] and abs(int(grey[0]) - 150) <= 12
    stretched = client.get(tile_url(r.id, tile), params={"bidx": 2, "rescale": "100,200"})
    assert abs(int(rgba(stretched.content)[row, col, 0]) - 127) <= 31  # 150 → (150-100)/100*255
    coloured = client.get(tile_url(r.id, tile), params={"bidx": 2, "colormap_name": "viridis"})
    pixel = rgba(coloured.content)[row, col]
    assert coloured.status_code == 200 and not pixel[0] == pixel[1] == pixel[2]
    custom = client.get(tile_url(r.id, tile), params={"bidx": 1, "rescale": "0,255",
                                                      "colormap": '{"0": "#000000", "255": "#ff0000"}'})
    assert custom.status_code == 200


def test_tile_outside_the_raster_is_a_404_problem(client, rasters):
    r = rasters["rgb_old"]
    far = tile_of(105.0, 20.0, Z)
    resp = client.get(tile_url(r.id, far))
    assert is_problem(resp, 404) and "outside" in resp.json()["detail"]


def test_tilejson_and_tilesets_give_public_templated_urls(client, rasters, tiles_settings):
    r = rasters["rgb_old"]
    tj = client.get(f"/rasters/{r.id}/WebMercatorQuad/tilejson.json", params={"tile_format": "webp"}).json()
    base = f"http://testserver/rasters/{r.id}/tiles/WebMercatorQuad"  # the address the request came to
    assert tj["tiles"][0].startswith(base + "/{z}/{x}/{y}.webp")
    west, south, east, north = tj["bounds"]
    assert 106.749 < west < east < 106.752 and 21.848 < south < north < 21.851
    assert tj["minzoom"] <= 18 <= tj["maxzoom"] >= 20
    sets = client.get(f"/rasters/{r.id}/tiles").json()["tilesets"]
    assert {s["crs"].rsplit("/", 1)[-1] for s in sets} == {"3857", "CRS84"}


def test_wmts_capabilities_for_qgis(client, rasters, tiles_settings, raster_store):
    r = rasters["rgb_old"]
    resp = client.get(f"/rasters/{r.id}/WMTSCapabilities.xml", params={"tile_format": "png"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/xml")
    assert str(raster_store) not in resp.text and ".tif" not in resp.text  # no file path leaks
    ns = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}
    doc = ET.fromstring(resp.content)
    layers = doc.findall("w:Contents/w:Layer", ns)
    ids = [layer.findtext("ows:Identifier", namespaces=ns) for layer in layers]
    assert f"{r.id}_WebMercatorQuad_default" in ids
    layer = layers[ids.index(f"{r.id}_WebMercatorQuad_default")]
    template = layer.find("w:ResourceURL", ns).get("template")
    assert template.startswith(f"http://testserver/rasters/{r.id}/tiles/WebMercatorQuad/"
                               "{TileMatrix}/{TileCol}/{TileRow}.png")
    limits = layer.findall("w:TileMatrixSetLink/w:TileMatrixSetLimits/w:TileMatrixLimits", ns)
    assert limits and all(lim.findtext("w:TileMatrix", namespaces=ns).isdigit() for lim in limits)
    assert "Lạng Sơn" in doc.findtext("ows:ServiceIdentification/ows:Title", namespaces=ns)
    tms_ids = [t.findtext("ows:Identifier", namespaces=ns) for t in doc.findall("w:Contents/w:TileMatrixSet", ns)]
    assert "WebMercatorQuad" in tms_ids


# --- band math and indices -----------------------------------------------------------------------

def source_on_tile(raster, tile, bands: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The source bands resampled (nearest) onto a 256² tile grid, and where they are valid."""
    b = TMS.xy_bounds(tile)
    transform = rasterio.transform.from_bounds(b.left, b.bottom, b.right, b.top, 256, 256)
    out = np.zeros((len(bands), 256, 256), "float64")
    with rasterio.open(raster.path) as src:
        for i, band in enumerate(bands):
            reproject(rasterio.band(src, band), out[i], dst_transform=transform, dst_crs="EPSG:3857",
                      resampling=Resampling.nearest, dst_nodata=0)
    return out, (out != 0).all(axis=0)


@pytest.mark.parametrize("how", [{"algorithm": "ndvi"}, {"expression": "(b5-b3)/(b5+b3)"}])
def test_ndvi_tile_values_match_numpy_on_the_source(client, rasters, auth, how):
    r = rasters["ms"]
    tile = tile_of(*r.lonlat(256, 256), 19)
    resp = client.get(tile_url(r.id, tile, "tif"), params=how, headers=auth["ranger"])
    assert resp.status_code == 200, resp.text
    values, profile = geotiff(resp.content)
    assert values.shape[0] == 1 and profile["dtype"] in ("float32", "float64")
    (red, nir), valid = source_on_tile(r, tile, [3, 5])
    expected = ndvi(red, nir)
    both = valid & ~np.ma.getmaskarray(values[0])
    assert both.sum() > 5000
    diff = np.abs(values[0].filled(np.nan)[both] - expected[both])
    # the same pixels: identical values, but where the two nearest-neighbour resamplings pick the
    # neighbouring source pixel (the index changes by < 0.002 from one pixel to the next)
    assert np.median(diff) < 1e-6 and (diff < 0.002).mean() > 0.99
    assert not (np.ma.getmaskarray(values[0]) & valid).mean() > 0.01  # masked only where there is no data


def test_ndvi_png_is_coloured_and_transparent_without_data(client, rasters, auth):
    r = rasters["ms"]
    lonlat = r.lonlat(256, 20)  # in the nodata strip (columns 0–31)
    tile = tile_of(*r.lonlat(256, 32), 19)
    resp = client.get(tile_url(r.id, tile), params={"algorithm": "ndvi"}, headers=auth["ranger"])
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    img = rgba(resp.content)
    row, col = pixel_of(*lonlat, tile)
    assert img[row, col, 3] == 0
    inside = pixel_of(*r.lonlat(256, 44), tile)
    assert 0 <= min(inside) and max(inside) < 256
    assert img[inside][3] == 255 and img[inside][1] > img[inside][0]  # NDVI ~0.6: green end of RdYlGn


@pytest.mark.parametrize("index", ["vari", "exg"])
def test_rgb_vegetation_index_separates_vegetation_from_soil(client, rasters, index):
    r = rasters["rgb_old"]
    tile = tile_of(*r.lonlat(512, 512), 19)  # the west (vegetation) / east (soil) boundary
    resp = client.get(tile_url(r.id, tile, "tif"), params={"algorithm": index})
    assert resp.status_code == 200, resp.text
    values, _ = geotiff(resp.content)
    veg = values[0][pixel_of(*r.lonlat(512, 400), tile)]
    soil = values[0][pixel_of(*r.lonlat(512, 620), tile)]
    assert veg > 0.15 and soil < 0.05, (veg, soil)
    png = client.get(tile_url(r.id, tile), params={"algorithm": index})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"


@pytest.mark.parametrize(("params", "words"), [
    ({"expression": "__import__('os').system('id')"}, "disallowed"),
    ({"expression": "b9*2"}, "b9"),
    ({"expression": "b1.__class__"}, "invalid expression"),
    ({"expression": "b1 +"}, "invalid expression"),
    ({"bidx": 9}, "no band 9"),
    ({"bidx": 1, "expression": "b1*2"}, "not both"),
    ({"algorithm": "ndvi"}, "nir"),
    ({"algorithm": "no-such-thing"}, "algorithm"),
    ({"colormap_name": "no-such-map"}, "colormap_name"),
    ({"rescale": "a,b"}, "rescale"),
    ({"tilesize": 100000}, "tilesize"),
])
def test_bad_band_math_and_options_are_400_problems(client, rasters, params, words):
    r = rasters["rgb_old"]
    tile = tile_of(*r.lonlat(512, 300), Z)
    resp = client.get(tile_url(r.id, tile), params=params)
    assert is_problem(resp, 400), resp.text
    assert words.lower() in resp.text.lower()


# --- statistics, points, previews, crops --------------------------------------------------------

def test_statistics(client, rasters, auth):
    r = rasters["ms"]
    stats = client.get(f"/rasters/{r.id}/statistics", headers=auth["ranger"]).json()
    assert set(stats) == {"b1", "b2", "b3", "b4", "b5"}
    red = r.data[2][r.valid]
    assert stats["b3"]["min"] == pytest.approx(red.min(), abs=2) and stats["b3"]["max"] == pytest.approx(red.max(),
                                                                                                        abs=2)
    index = client.get(f"/rasters/{r.id}/statistics", params={"algorithm": "ndvi"}, headers=auth["ranger"]).json()
    expected = ndvi(r.data[2], r.data[4])[r.valid]
    assert index["b1"]["mean"] == pytest.approx(expected.mean(), abs=0.01)


def test_point_values(client, rasters, auth):
    r = rasters["ms"]
    lon, lat = r.lonlat(100, 300)
    got = client.get(f"/rasters/{r.id}/point/{lon},{lat}", headers=auth["ranger"]).json()
    assert got["values"] == r.data[:, 100, 300].tolist()
    expr = client.get(f"/rasters/{r.id}/point/{lon},{lat}", params={"expression": "(b5-b3)/(b5+b3)"},
                      headers=auth["ranger"]).json()
    assert expr["values"][0] == pytest.approx(ndvi(r.data[2], r.data[4])[100, 300], abs=1e-6)
    outside = client.get(f"/rasters/{r.id}/point/105.0,20.0", headers=auth["ranger"])
    assert is_problem(outside, 404)


def test_preview_is_small_and_masked(client, rasters):
    r = rasters["rgb_old"]
    resp = client.get(f"/rasters/{r.id}/preview.png", params={"max_size": 256})
    img = rgba(resp.content)
    assert resp.status_code == 200 and max(img.shape[:2]) == 256
    assert img[0, 0, 3] == 0 and img[128, 64, 3] == 255  # corner outside the disc, west inside
    too_big = client.get(f"/rasters/{r.id}/preview.png", params={"max_size": 100000})
    assert is_problem(too_big, 400)
    assert is_problem(client.get(f"/rasters/{r.id}/preview/99999x99999.png"), 400)


def test_crop_by_geojson_feature(client, rasters):
    r = rasters["rgb_old"]
    (w, n), (e, s) = r.lonlat(400, 200), r.lonlat(600, 400)  # a 20 m square of vegetation
    feature = {"type": "Feature", "properties": {},
               "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}}
    resp = client.post(f"/rasters/{r.id}/feature.png", json=feature)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    img = rgba(resp.content)
    assert 150 <= img.shape[0] <= 260 and 150 <= img.shape[1] <= 260  # ~200 px at 10 cm
    inside = img[img[..., 3] == 255]
    assert len(inside) > 0.9 * img.shape[0] * img.shape[1] and (inside[:, 1] > inside[:, 0] + 50).mean() > 0.95
    sized = client.post(f"/rasters/{r.id}/feature/64x64.png", json=feature)
    assert rgba(sized.content).shape[:2] == (64, 64)
    stats = client.post(f"/rasters/{r.id}/statistics", json=feature).json()
    assert stats["properties"]["statistics"]["b2"]["mean"] > 140
    bad = client.post(f"/rasters/{r.id}/feature.png", json={"type": "Feature", "geometry": "nope"})
    assert is_problem(bad, 400)


# --- mosaic by date ------------------------------------------------------------------------------

def mosaic_pixel(client, lonlat, **params) -> np.ndarray:
    tile = tile_of(*lonlat, Z)
    url = f"/rasters/collections/tiles_test_uav/mosaic/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    resp = client.get(url, params=params)
    assert resp.status_code == 200, resp.text
    return rgba(resp.content)[pixel_of(*lonlat, tile)].astype(int)


def test_mosaic_of_a_collection_by_date(client, rasters):
    old, new = rasters["rgb_old"], rasters["rgb_new"]
    both = old.lonlat(512, 700)  # old: soil (east half); new (40 m east): vegetation (west half), brighter
    old_only = old.lonlat(512, 150)
    assert abs(mosaic_pixel(client, both, datetime="2026-03-01")[:3] - old.data[:, 512, 700]).max() <= 12
    assert abs(mosaic_pixel(client, both, datetime="2026-04-01/2026-04-30")[:3] - new.data[:, 512, 300]).max() <= 12
    newest_on_top = mosaic_pixel(client, both)
    assert abs(newest_on_top[:3] - new.data[:, 512, 300]).max() <= 12
    assert abs(mosaic_pixel(client, old_only)[:3] - old.data[:, 512, 150]).max() <= 12  # older fills the gap
    assert mosaic_pixel(client, old_only, datetime="../2026-12-31", pixel_selection="first")[3] == 255
    nothing = client.get("/rasters/collections/tiles_test_uav/mosaic/WebMercatorQuad/tilejson.json",
                         params={"datetime": "2025-01-01/2025-12-31"})
    assert is_problem(nothing, 404)
    bad = client.get("/rasters/collections/tiles_test_uav/mosaic/WebMercatorQuad/tilejson.json",
                     params={"datetime": "yesterday"})
    assert is_problem(bad, 400)
    tj = client.get("/rasters/collections/tiles_test_uav/mosaic/WebMercatorQuad/tilejson.json",
                    params={"datetime": "2026-03-01/2026-04-30"}).json()
    assert "datetime=2026-03-01%2F2026-04-30" in tj["tiles"][0]
    wmts = client.get("/rasters/collections/tiles_test_uav/mosaic/WMTSCapabilities.xml")
    assert wmts.status_code == 200 and "tiles_test_uav_mosaic" in wmts.text


def test_mosaic_outside_is_404_and_pending_items_never_count(client, rasters):
    tile = tile_of(105.0, 20.0, Z)
    url = f"/rasters/collections/tiles_test_uav/mosaic/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    assert is_problem(client.get(url), 404)
    only_pending = client.get("/rasters/collections/tiles_test_uav/mosaic/WebMercatorQuad/tilejson.json",
                              params={"datetime": "2026-05-30"})  # the pending item's day
    assert is_problem(only_pending, 404)


def test_algorithms_and_colour_maps_are_listed(client):
    algos = client.get("/rasters/algorithms").json()
    assert {"ndvi", "vari", "exg", "hillshade"} <= {a["id"] for a in algos["algorithms"]}
    assert "/rasters/algorithms/ndvi" in str(algos)
    assert client.get("/rasters/algorithms/ndvi").json()["outputs"]["min"] == [-1.0]
    assert "rdylgn" in client.get("/rasters/colorMaps").text
