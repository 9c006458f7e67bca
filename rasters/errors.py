"""Why a raster is refused: one code per kind of bad input, mapped to an HTTP status."""

from __future__ import annotations

from sdi.errors import InvalidInputError, SDIError

#: code → (HTTP status, title)
CODES: dict[str, tuple[int, str]] = {
    "empty_file": (400, "Tệp rỗng / Empty file"),
    "not_an_image": (415, "Không phải ảnh / Not an image"),
    "not_geotiff": (415, "Không phải GeoTIFF / Not a GeoTIFF"),
    "corrupt": (422, "Tệp hỏng / Corrupt file"),
    "no_georeference": (422, "Thiếu tham chiếu địa lý / No georeference"),
    "no_crs": (422, "Thiếu hệ tọa độ / No CRS"),
    "unsupported_dtype": (422, "Kiểu dữ liệu không hỗ trợ / Unsupported data type"),
    "bands": (422, "Kênh ảnh không phù hợp / Bands do not fit the collection"),
    "too_large": (413, "Ảnh quá lớn / Raster too large"),
    "outside_province": (422, "Ngoài tỉnh Lạng Sơn / Outside Lạng Sơn province"),
    "no_valid_data": (422, "Không có dữ liệu hợp lệ / No valid data"),
    "cog_invalid": (500, "COG không hợp lệ / Invalid COG"),
    "busy": (409, "Đang được nạp / Being ingested"),
    "duplicate": (409, "Đã có / Already ingested"),
}


class RasterRejected(InvalidInputError):
    """A raster refused by ingest; ``code`` says which check (see ``CODES``)."""

    def __init__(self, code: str, detail: str, **extra: object) -> None:
        super().__init__(detail, **extra)
        self.code = code
        self.status, self.title = CODES[code]


class StoreError(SDIError):
    """The raster store cannot be used: an S3 endpoint unreachable, keys refused, no such bucket."""

    status = 503
    title = "Kho ảnh không sẵn sàng / Raster store unavailable"

    def __init__(self, detail: str, code: str = "store_unavailable") -> None:
        super().__init__(detail)
        self.code = code
