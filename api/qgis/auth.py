"""The caller's key in a project: never in the file, only the id of a QGIS authentication configuration."""

from __future__ import annotations

#: The authentication configuration the project of a caller with a key refers to.
DEFAULT_AUTHCFG = "langson"


def auth_note(authcfg: str) -> str:
    """How to give QGIS the key: an authentication configuration with the id the layers name."""
    return (
        f"CẦN KHOÁ API: tệp này không chứa khoá. Trong QGIS vào Cài đặt → Tùy chọn → Xác thực, bấm +, đặt "
        f"Id = {authcfg}, kiểu Basic: tên người dùng tuỳ ý, mật khẩu là khoá API (QGIS ≥ 3.24 có thể chọn kiểu "
        f"API Header với khoá X-API-Key); rồi mở lại dự án. "
        f"/ API KEY NEEDED: this file holds no key. In QGIS open Settings → Options → Authentication, click +, "
        f"set Id = {authcfg}, method Basic: any user name, the API key as password (QGIS ≥ 3.24 may use the "
        f"API Header method with header X-API-Key instead); then open the project again. To use a "
        f"configuration you already have, download the project with ?authcfg=ITS_ID."
    )
