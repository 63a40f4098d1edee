"""receipt numbers, refunds owed, and a payment for every held seat

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Besides the schema, three data steps bring existing rows under the new rules:
every payment gets a receipt number; every seat held in a paid course without
a payment gets one (so everything a student owes is on their payments); and a
held seat's due time becomes its pending payment's (one date, shown alike).
"""
import secrets
import uuid
from collections.abc import Iterator
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.engine import Connection

import lib.db


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# As functions/checkout/ledger.py draws them (copied: a migration must not
# change when the code does).
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _receipt_numbers() -> Iterator[str]:
    drawn: set[str] = set()
    while True:
        symbols = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))
        number = f"R-{symbols[:4]}-{symbols[4:]}"
        if number not in drawn:
            drawn.add(number)
            yield number


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('refunds',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('payment_id', sa.String(length=255), nullable=False),
    sa.Column('payment_intent', sa.String(length=255), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('stripe_refund_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', lib.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', lib.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_at', lib.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_refunds_idempotency_key'))
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index('ix_refunds_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)

    # A plain ADD COLUMN (no table rebuild on SQLite, which would cascade-delete
    # payment_items), filled below, then a unique index.
    op.add_column('payments', sa.Column('receipt_number', sa.String(length=16), nullable=True))
    bind = op.get_bind()
    numbers = _receipt_numbers()
    for (payment_id,) in bind.execute(sa.text("SELECT id FROM payments")).fetchall():
        bind.execute(
            sa.text("UPDATE payments SET receipt_number = :number WHERE id = :id"),
            {"number": next(numbers), "id": payment_id},
        )
    _open_payments_for_holds(bind, numbers)
    _align_due_times(bind)
    op.create_index('uq_payments_receipt_number', 'payments', ['receipt_number'], unique=True)


def _open_payments_for_holds(bind: Connection, numbers: Iterator[str]) -> None:
    holds = bind.execute(sa.text(
        "SELECT e.id, e.student_id, e.course_id, e.due_at, e.created_at, "
        "c.price_amount, c.currency, c.code, c.title "
        "FROM enrollments e JOIN courses c ON c.id = e.course_id "
        "WHERE e.status = 'pending_payment' AND e.payment_id IS NULL "
        "AND c.price_amount > 0 AND e.due_at IS NOT NULL"
    )).fetchall()
    for hold in holds:
        payment_id = uuid.uuid4().hex
        bind.execute(
            sa.text(
                "INSERT INTO payments (id, receipt_number, student_id, status, amount, currency, "
                "due_at, sessions_started, processing, refunded_amount, created_at, updated_at) "
                "VALUES (:id, :number, :student_id, 'pending', :amount, :currency, :due_at, 0, "
                ":processing, 0, :created_at, :created_at)"
            ),
            {
                "id": payment_id, "number": next(numbers), "student_id": hold.student_id,
                "amount": hold.price_amount, "currency": hold.currency, "due_at": hold.due_at,
                "processing": False, "created_at": hold.created_at,
            },
        )
        bind.execute(
            sa.text(
                "INSERT INTO payment_items (id, payment_id, course_id, enrollment_id, "
                "description, amount, refunded) "
                "VALUES (:id, :payment_id, :course_id, :enrollment_id, :description, :amount, "
                ":refunded)"
            ),
            {
                "id": uuid.uuid4().hex, "payment_id": payment_id, "course_id": hold.course_id,
                "enrollment_id": hold.id, "description": f"{hold.code} {hold.title}"[:300],
                "amount": hold.price_amount, "refunded": False,
            },
        )
        bind.execute(
            sa.text("UPDATE enrollments SET payment_id = :payment_id WHERE id = :id"),
            {"payment_id": payment_id, "id": hold.id},
        )


def _align_due_times(bind: Connection) -> None:
    bind.execute(sa.text(
        "UPDATE enrollments SET due_at = ("
        "SELECT p.due_at FROM payments p WHERE p.id = enrollments.payment_id) "
        "WHERE status = 'pending_payment' AND payment_id IN ("
        "SELECT id FROM payments WHERE status = 'pending')"
    ))


def downgrade() -> None:
    """Downgrade schema. The payments opened for held seats stay: they are
    valid payments under the old rules too."""
    op.drop_index('uq_payments_receipt_number', table_name='payments')
    if op.get_bind().dialect.name == "sqlite":
        # Natively (SQLite 3.35+): a batch rebuild would cascade-delete payment_items.
        op.execute("ALTER TABLE payments DROP COLUMN receipt_number")
    else:
        op.drop_column('payments', 'receipt_number')

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_refunds_status_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_refunds_payment_id'))

    op.drop_table('refunds')
