"""what the registry remembers about itself (seeded) and used one-time login links

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "used_logins",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("used_ns", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("used_logins")
    op.drop_table("registry_meta")
