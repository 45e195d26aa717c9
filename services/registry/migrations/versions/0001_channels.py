"""channels and their schema versions

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("port", sa.Integer(), nullable=False, unique=True),
        sa.Column("schema_text", sa.Text(), nullable=False),
        sa.Column("schema_path", sa.String(1024), nullable=True),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("time_field", sa.String(255), nullable=True),
        sa.Column("time_unit", sa.String(2), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("mcast_full", sa.String(64), nullable=False),
        sa.Column("mcast_dec", sa.String(64), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "schema_versions",
        sa.Column(
            "channel_id",
            sa.Integer(),
            sa.ForeignKey("channels.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("schema_text", sa.Text(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schema_versions")
    op.drop_table("channels")
