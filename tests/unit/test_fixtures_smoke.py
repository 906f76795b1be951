import sqlalchemy as sa


def test_pg_replica_has_sl_tables(sl_pg_url: str) -> None:
    engine = sa.create_engine(sl_pg_url)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {"batch", "ardoc", "artran", "gltran", "arsetup", "glsetup"} <= names


def test_sqlite_replica_has_sl_tables(sl_sqlite_url: str) -> None:
    engine = sa.create_engine(sl_sqlite_url)
    names = {n.lower() for n in sa.inspect(engine).get_table_names()}
    engine.dispose()
    assert {"batch", "ardoc", "artran", "gltran"} <= names
