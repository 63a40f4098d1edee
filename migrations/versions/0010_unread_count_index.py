"""outbox_messages: an index for a person's unread count

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-01

The web app asks for the unread count on every page change and every 30 s;
(recipient_id, read_at) answers it from the index alone.

Down revision 0007 in branch `rest`: 0008 and 0009 come from other tracks and
the chain is fixed when they are merged.
"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index(
        'ix_outbox_messages_recipient_read_at',
        'outbox_messages',
        ['recipient_id', 'read_at'],
        unique=False,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_outbox_messages_recipient_read_at', table_name='outbox_messages')
