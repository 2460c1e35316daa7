"""Catalogue of the raw public sources the curated data (Peru, Brazil) are made from.

Each :class:`SourceRef` names where a raw file came from (repository @ commit and path, or a registry
package and version), its licence and vintage, as recorded in the raw-data notes that come with the
sources. The rebuild copies these into ``data/MANIFEST.yaml`` so that the running product can show
provenance without reading the raw folder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["LICENCES", "SOURCES", "SourceRef", "package_source"]


@dataclass(frozen=True)
class SourceRef:
    """Where one raw input came from.

    Attributes
    ----------
    file : str
        Path of the raw file relative to the raw-data folder (``peru/…``, ``latam/…``), or the data
        file inside a registry package.
    origin : str
        ``owner/repository@commit`` or ``package==version``.
    origin_path : str
        Path inside the repository or package.
    licence : str
        SPDX-like identifier, a key of :data:`LICENCES`.
    vintage : str
        Period the values describe.
    publisher : str
        Who produced the underlying data.
    """

    file: str
    origin: str
    origin_path: str
    licence: str
    vintage: str
    publisher: str

    def to_dict(self) -> dict[str, Any]:
        """Return the reference as a plain dictionary (for YAML)."""
        return asdict(self)


_GEOJSON_PE = "juaneladio/peru-geojson@3213eeb"
_UBIGEO = "jmcastagnetto/ubigeo-peru-aumentado@a783fa6"
_FINEPRINT = "fineprint-global/compilation_mining_data@b0e76a5"
_FINEPRINT_RDS = "03_intermediate/02_country_specific/peru/peru_converted.rds"
_WEATHER = "3wen/weather-peru@1663dc8"
_MAPPROMPT = "jmcastagnetto/my_map_prompt_monday@b28a351"
_NE = "martynafford/natural-earth-geojson@0b9a6ce"
_MINEM = "MINEM (Ministry of Energy and Mines of Peru) statistics"
_FIDT = "CarloEduardo/FIDT_2024@77e13b9"
_FIDT_XLSX = "01. Input/00. Dataset/08. MIDAGRI/2024 11.05 BD informaci n SEIA.xlsx"
_MIDAGRI = "MIDAGRI (Ministry of Agrarian Development and Irrigation of Peru), delivered to MEF"
_DEFOREST = "pipaber/xgboost_deforestation@04b3706cbec46c68ce55d3729fc2836068a1da31"
_RSNIFFS = "PaulESantos/rsniffs@d917a31148946e6ca3e5a52c3b25d3595dc373cf"
_GPPD = "wri/global-power-plant-database@7a91cfbb2a4e272597acbc00506d61fc1ec73b3d"


def _ne(file: str, what: str) -> SourceRef:
    return SourceRef(
        file=f"latam/{file}",
        origin=_NE,
        origin_path=f"10m/{what}",
        licence="PDDL-NaturalEarth",
        vintage="Natural Earth 5.x",
        publisher="Natural Earth",
    )


SOURCES: dict[str, SourceRef] = {
    "districts": SourceRef(
        "peru/peru_distrital_simple.geojson", _GEOJSON_PE, "peru_distrital_simple.geojson",
        "MPL-2.0", "2007 limits", "INEI via MINAM",
    ),
    "ubigeo_distrito": SourceRef(
        "peru/ubigeo_distrito.csv", _UBIGEO, "ubigeo_distrito.csv", "MIT", "2013–2020",
        "CEPLAN, INEI, PNUD, MIDIS (compiled)",
    ),
    "ubigeo_provincia": SourceRef(
        "peru/ubigeo_provincia.csv", _UBIGEO, "ubigeo_provincia.csv", "MIT", "2013–2020",
        "CEPLAN, INEI, PNUD, MIDIS (compiled)",
    ),
    "ubigeo_departamento": SourceRef(
        "peru/ubigeo_departamento.csv", _UBIGEO, "ubigeo_departamento.csv", "MIT", "2013–2020",
        "CEPLAN, INEI, PNUD, MIDIS (compiled)",
    ),
    "centros_poblados": SourceRef(
        "peru/centros_poblados.csv.gz", _UBIGEO, "ubigeo_ccpp.rds", "MIT",
        "2017 census frame", "INEI",
    ),
    "mining_facilities": SourceRef(
        "peru/mining_facilities.csv", _FINEPRINT, _FINEPRINT_RDS, "GPL-3.0", "2001–2019", _MINEM,
    ),
    "mining_sheet_com": SourceRef(
        "peru/mining_sheet_com.csv", _FINEPRINT, _FINEPRINT_RDS, "GPL-3.0", "2001–2019", _MINEM,
    ),
    "mining_sheet_min": SourceRef(
        "peru/mining_sheet_min.csv", _FINEPRINT, _FINEPRINT_RDS, "GPL-3.0", "2001–2019", _MINEM,
    ),
    "mining_sheet_coal": SourceRef(
        "peru/mining_sheet_coal.csv", _FINEPRINT, _FINEPRINT_RDS, "GPL-3.0", "2001–2019", _MINEM,
    ),
    "mining_processing": SourceRef(
        "peru/mining_processing.csv", _FINEPRINT, _FINEPRINT_RDS, "GPL-3.0", "2001–2019", _MINEM,
    ),
    "large_mines": SourceRef(
        "latam/large_mines_world.csv", "fineprint-global/compilation_mining_data",
        "01_input/01_data/01_detailed_data/detailed_data_mining.xlsx (sheet general)",
        "GPL-3.0", "c. 2019", "Fineprint compilation of company reports",
    ),
    "midagri_crops_2023": SourceRef(
        "peru/gapfill/agriculture/midagri_vbp_produccion_cultivo_distrito_2023.csv", _FIDT,
        f"{_FIDT_XLSX} (sheet 02)", "none-stated", "2023", _MIDAGRI,
    ),
    "midagri_area_2018": SourceRef(
        "peru/gapfill/agriculture/midagri_superficie_agricola_distrito_2018.csv", _FIDT,
        f"{_FIDT_XLSX} (sheet 01)", "none-stated", "2018", _MIDAGRI,
    ),
    "midagri_producers_2024": SourceRef(
        "peru/gapfill/agriculture/midagri_productores_distrito_2024.csv", _FIDT,
        f"{_FIDT_XLSX} (sheet 03)", "none-stated", "2024", _MIDAGRI,
    ),
    "cropland_grid": SourceRef(
        "peru/cropland_grid05_2015.gpkg", _WEATHER, "data/output/land/map_peru_grid_agri.rda",
        "GPL-3.0", "2015", "Copernicus Global Land Service (PROBA-V land cover)",
    ),
    "protected_areas": SourceRef(
        "peru/protected_areas.gpkg", "PaulESantos/perugeopkg@dde38f1", "anp/*.gpkg",
        "CC-BY-SA-4.0", "c. 2024", "SERNANP",
    ),
    "elevation": SourceRef(
        "peru/elevation_30s.tif", _MAPPROMPT, "common-data/PER_elv_msk.tif", "SRTM-terms",
        "SRTM 2000", "NASA SRTM via WorldClim/geodata",
    ),
    "roads": SourceRef(
        "peru/roads_national_travelmapping.gpkg", "TravelMapping/HighwayData@3d7993c",
        "hwy_data/PER/perpe/*.wpt, hwy_data/PER/persf/*.wpt", "ODbL-1.0", "2025",
        "TravelMapping project (positions from OpenStreetMap)",
    ),
    "tourism": SourceRef(
        "peru/tourism_resources_mincetur_2023.csv", _MAPPROMPT,
        "common-data/Inventario_recursos_turisticos.csv", "MIT", "cut 2023-01-02", "MINCETUR",
    ),
    "reniec": SourceRef(
        "peru/reniec_dni_holders_by_district_2022Q4.csv", _MAPPROMPT,
        "common-data/reniec-dni-2022Q4.rds", "MIT", "2022 Q4", "RENIEC",
    ),
    "province_predictors": SourceRef(
        "peru/province_predictors_cepal.csv", "psirusteam/2022PERsae@ed168a6",
        "Data/statelevel_predictors_df_provi.rds", "public-data", "2013–2017",
        "NOAA (DMSP lights), Copernicus, INEI census 2017 (CEPAL course)",
    ),
    "ne_ports": _ne("ne_10m_ports.geojson", "ne_10m_ports"),
    "ne_airports": _ne("ne_10m_airports.geojson", "ne_10m_airports"),
    "ne_places": _ne("ne_10m_populated_places.geojson", "ne_10m_populated_places"),
    "ne_rivers": _ne("ne_10m_rivers_lake_centerlines.geojson", "ne_10m_rivers_lake_centerlines"),
    "ne_lakes": _ne("ne_10m_lakes.geojson", "ne_10m_lakes"),
    "ne_peaks": _ne(
        "ne_10m_geography_regions_elevation_points.geojson",
        "ne_10m_geography_regions_elevation_points",
    ),
    "ne_admin1": SourceRef(
        "latam/ne_50m_admin_1_states_provinces.geojson", _NE,
        "50m/cultural/ne_50m_admin_1_states_provinces", "PDDL-NaturalEarth", "Natural Earth 5.x",
        "Natural Earth",
    ),
    "wpi": SourceRef(
        "latam/world_port_index.csv", "JamesRexMiller4/shapely_tut@429d844", "WPI.csv",
        "public-domain-NGA", "World Port Index (c. 2019)", "US NGA",
    ),
    "whc": SourceRef(
        "latam/whc_sites_2019.csv", "Abzalov50/travel_challenge@15b9010",
        "whc-sites-2019-light.csv", "UNESCO-data", "2019", "UNESCO World Heritage Centre",
    ),
    # peru/gapfill: forests, fisheries, power plants
    "ubigeo_crosswalk": SourceRef(
        "peru/gapfill/crosswalk/ubigeo_distrito_aumentado.csv", "jmcastagnetto/ubigeo-peru-aumentado"
        "@a783fa66effb16fa8f3321b49a3d5e71cab15a5c", "ubigeo_distrito.csv", "MIT", "2013–2020",
        "INEI, RENIEC (compiled)",
    ),
    "geobosques": SourceRef(
        "peru/gapfill/forest/geobosques_district_forest_loss_2001_2024.csv", _DEFOREST,
        "Bosque_y_perdida_de_bosques_por_Distrito_al_2024_curated.csv", "none-stated",
        "2001–2024", "MINAM Geobosques (Programa Nacional de Conservación de Bosques)",
    ),
    "mapbiomas_cip": SourceRef(
        "peru/gapfill/forest/cip_amazon_district_year_mapbiomas_lulc_2001_2020.csv", _DEFOREST,
        "deforestation_dataset_PERU.csv (column subset)", "none-stated", "2001–2020",
        "CIP/CGIAR (Quispe et al. 2022) from MapBiomas Perú (CC BY 4.0)",
    ),
    "serfor_concessions": SourceRef(
        "peru/gapfill/forest/serfor_concesiones_forestales_vigentes.csv", _RSNIFFS,
        "raw_data/APP_CONCESIONES_FORESTALES_SIR.xlsx", "MIT", "c. 2025",
        "SERFOR (SNIFFS public statistics)",
    ),
    "serfor_centres": SourceRef(
        "peru/gapfill/forest/serfor_centros_transformacion_primaria.csv", _RSNIFFS,
        "raw_data/CENTROS_TRANSFORMACION_PRIMARIA.xlsx", "MIT", "2016–2025",
        "SERFOR (SNIFFS public statistics)",
    ),
    "serfor_permits": SourceRef(
        "peru/gapfill/forest/serfor_permisos_forestales.csv", _RSNIFFS,
        "raw_data/PERMISOS_FORESTALES.xlsx", "MIT", "2016–2025",
        "SERFOR (SNIFFS public statistics)",
    ),
    "imarpe_coves": SourceRef(
        "peru/gapfill/fisheries/imarpe_portData_77_caletas.csv",
        "imarpe/imarpe@9e4a12157edebb3857143ab3fd1fda618c558b97", "data/portData.RData",
        "GPL-2.0", "c. 2015", "IMARPE (Instituto del Mar del Perú)",
    ),
    "gppd_wri": SourceRef(
        "peru/gapfill/power/gppd_wri_peru.csv", _GPPD, "raw_source_files/WRI/Peru.csv",
        "CC-BY-4.0", "2015", "WRI Global Power Plant Database (from MINEM 2015)",
    ),
    "gppd_geodb_cdm": SourceRef(
        "peru/gapfill/power/gppd_source_geodb_cdmdb_peru.csv", _GPPD,
        "source_databases_csv/database_GEODB.csv + database_CDMDB.csv (Peru rows)",
        "CC-BY-4.0", "c. 2017", "WRI Global Power Plant Database (GEODB, UNFCCC CDM)",
    ),
    # peru/gapfill: services, connectivity and visits
    "fidt_services": SourceRef(
        "peru/gapfill/access/fidt2024_district_services_access.csv", _FIDT,
        "03. Output/Data_Warehouse_distrito.dta (column subset)", "none-stated", "2017; 2023",
        "INEI (Censos Nacionales 2017), MTC 2023, compiled by MEF for the FIDT 2024",
    ),
    "mtc_mobile": SourceRef(
        "peru/gapfill/access/fidt2024_mtc_mobile_internet_coverage_district.csv", _FIDT,
        "01. Input/08. Telecomunicación rural/Cobertura de internet movil.dta", "none-stated",
        "2023", "MTC (Ministry of Transport and Communications of Peru)",
    ),
    "sernanp_visits": SourceRef(
        "peru/gapfill/tourism/sernanp_anp_visits_2022_2023.csv",
        "jorcabes/app-dashboard_sernanp@d70c9e10ed9f5609265549fcfc22381ffb3b4381",
        "SERNANPdataset_Turismo.csv", "none-stated", "Jan 2022–Nov 2023",
        "SERNANP via datosabiertos.gob.pe",
    ),
}
"""Raw files by short key."""


def package_source(
    package: str, data_path: str, *, licence: str, vintage: str, publisher: str
) -> SourceRef:
    """Return a :class:`SourceRef` for data shipped inside an installed registry package.

    Parameters
    ----------
    package : str
        Distribution name on PyPI.
    data_path : str
        Data file or object inside the package.
    licence, vintage, publisher : str
        As in :class:`SourceRef`.

    Returns
    -------
    SourceRef
        With ``origin`` set to ``package==installed-version``.
    """
    try:
        ver = version(package)
    except PackageNotFoundError as exc:  # pragma: no cover - depends on environment
        msg = f"the package {package!r} is needed to rebuild the data: pip install '.[data]'"
        raise ImportError(msg) from exc
    return SourceRef(
        file=f"{package}:{data_path}",
        origin=f"{package}=={ver}",
        origin_path=data_path,
        licence=licence,
        vintage=vintage,
        publisher=publisher,
    )


LICENCES: dict[str, dict[str, str]] = {
    "MPL-2.0": {
        "name": "Mozilla Public License 2.0",
        "url": "https://www.mozilla.org/en-US/MPL/2.0/",
        "notice": "File-level copyleft: modified copies of the covered files stay under MPL-2.0.",
    },
    "MIT": {
        "name": "MIT License",
        "url": "https://opensource.org/license/mit",
        "notice": "Permission is granted free of charge to use, copy, modify and distribute, provided "
        "the copyright notice and this permission notice are included.",
    },
    "GPL-3.0": {
        "name": "GNU General Public License v3.0",
        "url": "https://www.gnu.org/licenses/gpl-3.0.html",
        "notice": "The repositories these tables were taken from are GPL-3.0. The underlying figures "
        "are official statistics of the Peruvian government (mining, crops) or were compiled from "
        "company reports (large mines); derived files are redistributed under GPL-3.0 with this "
        "attribution.",
    },
    "CC-BY-SA-4.0": {
        "name": "Creative Commons Attribution-ShareAlike 4.0",
        "url": "https://creativecommons.org/licenses/by-sa/4.0/",
        "notice": "Attribution required; adaptations must be shared under the same licence. The "
        "protected-area file is an adaptation and stays CC BY-SA 4.0.",
    },
    "CC-BY-4.0": {
        "name": "Creative Commons Attribution 4.0",
        "url": "https://creativecommons.org/licenses/by/4.0/",
        "notice": "Attribution required.",
    },
    "Apache-2.0": {
        "name": "Apache License 2.0",
        "url": "https://www.apache.org/licenses/LICENSE-2.0",
        "notice": "Permissive; keep the notice.",
    },
    "ODbL-1.0": {
        "name": "Open Database License 1.0 (OpenStreetMap positions)",
        "url": "https://opendatacommons.org/licenses/odbl/1-0/",
        "notice": "The TravelMapping repository carries no licence file; its positions appear to come "
        "from OpenStreetMap, so both are attributed and the ODbL share-alike terms are honoured.",
    },
    "PDDL-NaturalEarth": {
        "name": "Public domain (Natural Earth)",
        "url": "https://www.naturalearthdata.com/about/terms-of-use/",
        "notice": "No permission needed; credit 'Made with Natural Earth'.",
    },
    "public-domain-NGA": {
        "name": "Public domain (US National Geospatial-Intelligence Agency)",
        "url": "https://msi.nga.mil/Publications/WPI",
        "notice": "World Port Index, a US government work.",
    },
    "UNESCO-data": {
        "name": "UNESCO World Heritage Centre open data",
        "url": "https://whc.unesco.org/en/syndication/",
        "notice": "Attribution to the UNESCO World Heritage Centre.",
    },
    "SRTM-terms": {
        "name": "SRTM public domain data, distributed under WorldClim/geodata terms",
        "url": "https://www.worldclim.org/data/index.html",
        "notice": "Elevation from NASA's Shuttle Radar Topography Mission; the repository it was "
        "taken from is MIT.",
    },
    "public-data": {
        "name": "Public data, no licence file in the repository",
        "url": "https://github.com/psirusteam/2022PERsae",
        "notice": "Night-time lights (NOAA, public domain), land cover (Copernicus, free and open), "
        "census shares (INEI). Used with attribution.",
    },
    "none-stated": {
        "name": "No licence stated by the repository the file was taken from",
        "url": "n/a (the repository has no licence text)",
        "notice": "The redistributing repository states no licence. The figures are official "
        "public statistics of the Peruvian government (MIDAGRI, MINAM Geobosques, SERFOR, SERNANP, "
        "INEI, MTC) or a research dataset built on MapBiomas Perú (CC BY 4.0), used with "
        "attribution to the publisher named with each source; no other terms were found.",
    },
    "GPL-2.0": {
        "name": "GNU General Public License v2.0",
        "url": "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
        "notice": "IMARPE's R package that ships the landing-site table is GPL-2; the derived file is "
        "redistributed under the same terms with this attribution.",
    },
}
"""Licence identifiers used in :data:`SOURCES`, with name, URL and a short notice."""
