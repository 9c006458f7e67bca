"""``sdi change detect | export | report``: forest change for rangers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sdi.settings import Settings

change_app = typer.Typer(help="Phát hiện biến động rừng / forest change detection", no_args_is_help=True)
console = Console()


def _prepare():
    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from sdi.bootstrap import prepare_database

    settings = Settings()
    return settings, prepare_database(settings)


@change_app.command("detect")
def detect_cmd(
    before: Annotated[str, typer.Option("--before", help="id of the earlier raster item")],
    after: Annotated[str, typer.Option("--after", help="id of the later raster item")],
    threshold: Annotated[float | None, typer.Option(help="change threshold on the vegetation index "
                                                         "(default: automatic, Otsu)")] = None,
    mmu_ha: Annotated[float | None, typer.Option("--mmu-ha", help="minimum mapping unit, ha (default 0.05 "
                                                                  "below 1 m GSD, else 0.5)")] = None,
    resolution: Annotated[float | None, typer.Option(help="working resolution, m (default: the coarser "
                                                          "item's)")] = None,
    tolerance_px: Annotated[int, typer.Option(help="residual misregistration tolerated after co-registration, "
                                                   "pixels")] = 1,
    gain: Annotated[bool, typer.Option(help="report vegetation gains too")] = True,
    workers: Annotated[int | None, typer.Option(help="parallel windows (default: all cores)")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address, e.g. tcp://dask-scheduler:8786: the windows run on its workers, which "
             "read the rasters themselves (default: SDI_DASK_SCHEDULER, else the local cores)")] = None,
    dry_run: Annotated[bool, typer.Option(help="detect and print, write nothing")] = False,
) -> None:
    """So sánh hai lần chụp, ghi vùng biến động vào lớp change_events / compare two acquisitions."""
    # lazy: numpy, scipy, scikit-image, rasterio, geopandas (1.3 s), for this command only
    from change.detect import Params
    from change.run import run

    settings, engine = _prepare()
    params = Params(threshold=threshold, mmu_ha=mmu_ha, resolution=resolution, tolerance_px=tolerance_px,
                    gain=gain)
    if workers:
        params = replace(params, workers=workers)
    out = run(engine, settings, before, after, params, write=not dry_run, scheduler=scheduler)
    console.print(summary_table(out))
    r = out.result
    console.print(
        f"Lưới / grid: {r.grid.width}×{r.grid.height} px, {r.grid.res:g} m, {r.grid.crs.to_string()}; "
        f"chỉ số / index {r.index.upper()}; chuẩn hoá / normalisation a={r.normalisation[0]:.3f} "
        f"b={r.normalisation[1]:.3f}; ngưỡng / threshold loss {r.thresholds['loss']:.3f}"
        + (f", gain {r.thresholds['gain']:.3f}" if "gain" in r.thresholds else "")
        + f"; MMU {r.mmu_ha:g} ha; bị che / masked {r.masked_pixels} px ({r.masked_ha:.2f} ha, never counted as "
        f"change); {r.seconds:.1f} s")
    for note in r.notes:  # co-registration shift, forest mask of the first date
        console.print(f"  {note}")
    if dry_run:
        console.print("[yellow]Chạy thử: không ghi gì / dry run: nothing written[/yellow]")
    else:
        console.print(f"Đã ghi / written: {out.written} sự kiện / events ({out.inserted} mới / new, "
                      f"{out.updated} cập nhật / updated) → change_events")
        console.print("Lần chạy trước của cặp ảnh / earlier run of this pair:")
        console.print(f"  xoá / removed: {out.removed} sự kiện 'mới' không còn thấy / 'new' events no longer found")
        console.print(f"  chuyển / carried: {out.carried} quyết định của kiểm lâm sang sự kiện mới cùng chỗ / "
                      "rangers' decisions moved to the new event at the same place")
        console.print(f"  giữ / kept: {len(out.kept)} sự kiện đã kiểm tra không còn thấy / decided events no longer "
                      "found, kept" + (": " + ", ".join(out.kept[:20]) + (" …" if len(out.kept) > 20 else "")
                                       if out.kept else ""))


def summary_table(out) -> Table:
    frame = out.events
    table = Table(title=f"Biến động / change: {out.result.before.id} → {out.result.after.id}")
    for col in ("loại / type", "số vùng / events", "diện tích / area (ha)", "lô rừng / plots", "xã / communes"):
        table.add_column(col)
    for kind in ("loss", "gain"):
        part = frame[frame.change_type == kind]
        table.add_row({"loss": "mất rừng / loss", "gain": "tăng / gain"}[kind], str(len(part)),
                      f"{part.area_ha.sum():.2f}", str(part.plot_code.nunique()), str(part.commune_code.nunique()))
    return table


@change_app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Argument(help="output file: .geojson or .kml")],
    after: Annotated[str | None, typer.Option("--after", help="only events of this after item")] = None,
    commune: Annotated[str | None, typer.Option(help="commune code")] = None,
    owner: Annotated[str | None, typer.Option(help="forest owner (owner_vi of the plot)")] = None,
    status: Annotated[str | None, typer.Option(help="new | verified | false_alarm")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="geojson | kml (default: from the extension)")] = None,
) -> None:
    """Xuất sự kiện ra GeoJSON/KML cho điện thoại, máy GPS / export events for phones and GPS units."""
    from change.export import export, read_events  # lazy: geopandas, for this command only

    _, engine = _prepare()
    frame = read_events(engine, after_item=after, commune=commune, owner=owner, status=status)
    path = export(frame, out, fmt)
    console.print(f"Đã xuất / exported {len(frame)} sự kiện / events → {path}")


@change_app.command("report")
def report_cmd(
    out_dir: Annotated[Path, typer.Argument(help="folder for the reports (HTML and PDF)")],
    after: Annotated[str | None, typer.Option("--after", help="only events of this after item (one run)")] = None,
) -> None:
    """Báo cáo theo xã và theo chủ rừng (HTML, PDF) / reports per commune and per forest owner."""
    from change.report import write_reports  # lazy: geopandas, rasterio, fpdf2, for this command only

    settings, engine = _prepare()
    paths = write_reports(engine, settings, out_dir, after_item=after)
    for path in paths:
        console.print(str(path))
    console.print(f"{len(paths)} tệp / files")
