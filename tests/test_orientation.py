"""The offline base of a region's map."""

import pytest


def test_orientation_of_peru_comes_from_the_curated_data():
    from geo_engine.reporting.orientation import orientation

    base = orientation()
    assert len(base.land) == 1
    west, south, east, north = base.land.total_bounds
    assert -82 < west < -80
    assert -19 < south < -18
    assert -69 < east < -68
    assert -0.5 < north < 0.5
    capitals = base.labels[base.labels["kind"] == "capital"]
    assert {"Lima", "Cusco", "Iquitos", "Pucallpa", "Huaraz", "Puno"} <= set(capitals["name"])
    units = set(base.labels.loc[base.labels["kind"] == "unit", "name"])
    assert {"Apurímac", "San Martín", "Madre de Dios"} <= units
    assert "Callao" not in units  # too small to name without covering Lima
    named = base.labels[base.labels["kind"] == "unit"]["name"].tolist()
    assert named[0] == "Loreto"  # the largest first: its name wins over a neighbour's
    assert named.index("Ucayali") < named.index("Huánuco") < named.index("Lambayeque")
    assert len(base.outlines) == 25
    assert base.water is not None
    assert len(base.water) > 1
    assert base.credits == ("INEI via MINAM", "GeoNames", "Natural Earth")
    cusco = orientation("08")
    assert {"La Convención", "Urubamba"} <= set(cusco.labels["name"])
    assert len(cusco.outlines) > 50


def test_unit_orientation_of_any_region():
    import geopandas as gpd
    from shapely.geometry import box

    from geo_engine.reporting.orientation import unit_orientation

    units = gpd.GeoDataFrame({"unit_code": ["1", "2", "3"], "grandparent_code": ["A", "A", "B"]},
                             geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
                             crs=4326)
    base = unit_orientation(units)
    assert len(base.land) == 1
    assert base.land.geometry.iloc[0].area == pytest.approx(3, rel=0.01)
    assert len(base.outlines) == 2  # merged into departments
    assert len(unit_orientation(units, department="A").outlines) == 2
    assert base.labels is None
    assert base.credits == ()
