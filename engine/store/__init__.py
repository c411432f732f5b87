"""The store: SQLModel tables, session factory and queries.

The naming convention is set here, before any table module is imported, so every
constraint has a stable name: Alembic needs names to alter or drop constraints, and SQLite
batch migrations need them to rebuild tables.
"""

from sqlmodel import SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
