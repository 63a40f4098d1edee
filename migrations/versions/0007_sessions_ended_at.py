"""users: when a password change or reset ended every session

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Access tokens issued before `sessions_ended_at` are refused, so a reset ends
the sessions that hold only an access token too, not after 15 minutes.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import lib.db


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # A plain ADD COLUMN: rebuilding `users` on SQLite (batch mode) would
    # cascade-delete every row that refers to a user.
    op.add_column(
        'users', sa.Column('sessions_ended_at', lib.db.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('sessions_ended_at')
