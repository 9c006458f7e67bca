"""Domain errors. Each carries the HTTP status and title that ``sdi.problems`` maps it to."""

from __future__ import annotations

from typing import Any

#: the answer to a query cancelled by ``statement_timeout`` (``sdi.database``, ``sdi.problems``)
QUERY_TIMEOUT = ("Truy vấn vượt quá giới hạn thời gian và đã bị huỷ / the query ran longer than the limit "
                 "(SDI_STATEMENT_TIMEOUT_MS) and was cancelled; thu hẹp yêu cầu / narrow the request (bbox, "
                 "limit, filter) or try again later")


class SDIError(Exception):
    """Base class of every error the platform reports to users."""

    status: int = 500
    title: str = "Lỗi hệ thống / Internal error"
    #: a 5xx whose detail (and extra fields) are written by the platform for callers, never internal text:
    #: ``sdi.problems`` shows them (readiness, query time limit); other 5xx answer a fixed sentence
    public_detail: bool = False

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFoundError(SDIError):
    status = 404
    title = "Không tìm thấy / Not found"


class InvalidCredentialsError(SDIError):
    status = 401
    title = "Khoá không hợp lệ / Invalid credentials"


class ForbiddenError(SDIError):
    """The caller may see the thing but not change it (not staff of the owning agency)."""

    status = 403
    title = "Không có quyền / Forbidden"


class ConflictError(SDIError):
    """The request names something that exists already, or that another request is creating."""

    status = 409
    title = "Xung đột / Conflict"


class InvalidInputError(SDIError):
    status = 400
    title = "Dữ liệu không hợp lệ / Invalid input"


class UnsupportedFormatError(InvalidInputError):
    status = 415
    title = "Định dạng không hỗ trợ / Unsupported format"


class FileTooLargeError(InvalidInputError):
    status = 413
    title = "Tệp quá lớn / File too large"


class ValidationFailedError(InvalidInputError):
    """A load was refused by data-quality checks; ``report`` says why, feature by feature."""

    status = 422
    title = "Dữ liệu không đạt kiểm tra chất lượng / Data failed validation"

    def __init__(self, detail: str, report: Any) -> None:
        super().__init__(detail)
        self.report = report


class DatabaseError(SDIError):
    status = 503
    title = "Cơ sở dữ liệu không sẵn sàng / Database unavailable"


class ClusterError(SDIError):
    """The embedded PostgreSQL cluster could not be set up, started or stopped."""

    title = "Lỗi cụm PostgreSQL / Embedded PostgreSQL error"


class BackupError(SDIError):
    """A backup or restore could not be made (a tool missing or too old, the database refused)."""

    title = "Sao lưu / khôi phục thất bại / Backup or restore failed"


class BackupInvalidError(InvalidInputError):
    """A backup folder that does not check out: a file missing, changed or unlisted, a dump unreadable."""

    status = 422
    title = "Bản sao lưu không hợp lệ / Invalid backup"


class TargetNotEmptyError(SDIError):
    """A restore into a database or store that already holds data (refused unless ``--force``)."""

    status = 409
    title = "Nơi khôi phục không trống / Restore target not empty"


class NotReadyError(SDIError):
    """A part the platform needs (database, PostGIS, raster store) is not usable: ``/ready`` answers 503."""

    status = 503
    title = "Chưa sẵn sàng / Not ready"
    public_detail = True


class QueryTimeoutError(SDIError):
    """A database query ran longer than ``SDI_STATEMENT_TIMEOUT_MS`` and was cancelled by PostgreSQL."""

    status = 503
    title = "Truy vấn quá thời gian / Query timed out"
    public_detail = True
