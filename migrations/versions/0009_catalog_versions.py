"""catalog_versions: 16 shard counters bumped by triggers on every catalog change

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-10

The catalog version is SUM(version); a process keeps pages of the anonymous
catalog under it (lib.caching). Triggers on courses, course_sessions,
enrollments and users bump the shard of the changed course in the same
transaction (functions/catalog/versioning.py explains the PostgreSQL variant).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# The statements as this revision made them. If the triggers change, a new
# revision drops and recreates them, and this one keeps a copy of the old text.
from functions.catalog.versioning import create_statements, drop_statements
from lib.caching import catalog_version_rows


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    versions = op.create_table(
        'catalog_versions',
        sa.Column('shard', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('shard', name=op.f('pk_catalog_versions')),
    )
    op.bulk_insert(versions, catalog_version_rows())
    for statement in create_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    """Downgrade schema."""
    for statement in drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table('catalog_versions')
