"""Rebuild step for fisheries: IMARPE's coastal landing sites (caletas) as points."""

from __future__ import annotations

from curation.common.context import BuildContext, Dataset
from curation.common.frames import finish_points, nearest_district, points_frame, value_counts
from curation.peru.places import NEAREST_DISTRICT_KM, read_landing_sites
from curation.sources import SOURCES

__all__ = ["build"]


def _coves(ctx: BuildContext) -> Dataset:
    ref = SOURCES["imarpe_coves"]
    sites = read_landing_sites(ctx)
    dropped = sites[sites["drop_reason"].notna()]
    kept = points_frame(sites[sites["drop_reason"].isna()].reset_index(drop=True))
    codes, dist = nearest_district(kept, ctx.frames["districts"], max_km=NEAREST_DISTRICT_KM)
    kept["district_code"] = codes
    kept["district_distance_km"] = dist
    kept = kept.drop(columns=["drop_reason", "longitude", "latitude"])
    kept = kept.sort_values("name").reset_index(drop=True)
    coves = finish_points(kept, ["name", "zone", "important", "district_code"])
    return Dataset(
        id="landing_sites",
        title="Coastal fishing landing sites (caletas) of IMARPE, with zone and importance",
        file=ctx.write_table(coves, "landing_sites.parquet"),
        sources=[ref],
        licence="GPL-2.0",
        vintage=ref.vintage,
        processing=[
            "IMARPE's table of landing sites (portData, R package imarpe): name, longitude, "
            "latitude, zone (Norte/Centro/Sur → north/centre/south) and the importance flag "
            "(1 → important=true); the regex 'pattern' column used by IMARPE to match landing "
            "records is dropped.",
            "district_code is the district polygon holding the site or, for a site just off the "
            f"coastline, the nearest district within {NEAREST_DISTRICT_KM:g} km "
            "(district_distance_km).",
            "Points only: the source gives no landings or fleet sizes.",
        ],
        report={"sites": len(coves), "dropped": value_counts(dropped["drop_reason"]),
                "important": int(coves["important"].sum()),
                "zones": value_counts(coves["zone"]),
                "without_district": int(coves["district_code"].isna().sum())},
    )


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate IMARPE's landing sites.

    The lakes stay in the environment step: Natural Earth's 1:10m lakes hold only Lake Titicaca
    inside Peru.
    """
    return [_coves(ctx)]
